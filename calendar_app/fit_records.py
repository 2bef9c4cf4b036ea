"""Keeping stored brand-fit rows in step with brands and events.

Scores are computed by :mod:`calendar_app.fit` and stored, so that the calendar can sort and filter
by fit with an index instead of scoring on every request. A person's override is kept when the
computed score is refreshed: the override is a judgement, the score is arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable

from calendar_app.fit import score_event_for_brand
from calendar_app.models import Brand, BrandFit, Event


def refresh_fits(*, brands: Iterable[Brand], events: Iterable[Event]) -> int:
    """Upsert the fit of every (brand, event) pair where the event is visible to the brand."""
    rows = []
    events = list(events)
    for brand in brands:
        for event in events:
            if event.workspace_id not in (None, brand.workspace_id):
                continue
            result = score_event_for_brand(brand, event)
            rows.append(
                BrandFit(
                    workspace_id=brand.workspace_id,
                    brand=brand,
                    event=event,
                    score=result.score,
                    reasons=result.reasons,
                )
            )
    if rows:
        BrandFit.objects.bulk_create(
            rows,
            batch_size=500,
            update_conflicts=True,
            unique_fields=["brand", "event"],
            update_fields=["score", "reasons", "updated_at"],
        )
    return len(rows)


def refresh_for_brand(brand: Brand) -> int:
    return refresh_fits(brands=[brand], events=Event.objects.visible_to(brand.workspace_id))


def refresh_for_event(event: Event) -> int:
    brands = Brand.objects.all()
    if event.workspace_id is not None:
        brands = brands.filter(workspace_id=event.workspace_id)
    return refresh_fits(brands=brands, events=[event])
