"""The ceiling the delivery benchmark compares Kairos with: a django-q2 task that does 25
single-row UPDATEs and nothing else, i.e. what the broker, the cluster and the database allow
before any Kairos logic runs."""

from __future__ import annotations


def touch(publication_ids: list[int]) -> int:
    from calendar_app.models import Publication

    for pk in publication_ids:
        Publication.objects.filter(pk=pk).update(external_id="touched")
    return len(publication_ids)
