"""Lists whose rows can be equal in the ordered field walk every row exactly once.

The publications of one item share their due time, a burst of metric snapshots or webhook
deliveries can share a time, events can share a start. Without a unique last term the database
returns such rows in any order it likes (PostgreSQL did vary it for content items), and a cursor's
offset over equal positions, or a numbered page, then skips one row and repeats another. Every
ordering ends with the primary key (``calendar_app.api.filters.with_tie_break``).

Walking back by ``previous`` links is not asserted here: DRF's cursor, a position and an offset,
skips back a few rows by design where the direction changes inside a run of equal positions
(its ``get_previous_link`` says so); docs/api.md tells clients to walk by ``next``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from calendar_app.api.filters import with_tie_break
from calendar_app.models import Event, MetricSnapshot, Publication, Role, WebhookDelivery
from tests import factories as f
from tests.api.conftest import token_client

START = datetime(2027, 3, 28, 0, 30, tzinfo=UTC)  # the night Paris changes its clocks
#: Eleven rows at five instants, up to four sharing one.
STAMPS = [START + timedelta(hours=hour) for hour in (0, 1, 1, 1, 1, 2, 3, 3, 4, 4, 4)]
ROWS = len(STAMPS)


def _stamp(model, field: str, made: list[int]) -> list[int]:
    """Give the rows ``made`` the instants of :data:`STAMPS` in ``field``, in order of id, so that
    the rows of one instant are not in a run of ids."""
    shuffled = sorted(made, key=lambda pk: (pk % 3, pk))
    for pk, stamp in zip(shuffled, STAMPS, strict=True):
        also = {"ends_at": stamp + timedelta(hours=1)} if field == "starts_at" else {}
        model.objects.filter(pk=pk).update(**{field: stamp}, **also)
    return made


def _events(workspace, brand) -> list[int]:
    made = [f.EventFactory(workspace=workspace).pk for _ in range(ROWS)]
    _stamp(Event, "created_at", made)
    return _stamp(Event, "starts_at", made)


def _publications(workspace, brand) -> list[int]:
    item = f.ContentItemFactory(brand=brand, workspace=workspace)
    made = [f.PublicationFactory(content_item=item).pk for _ in range(ROWS)]
    return _stamp(Publication, "due_at", made)


def _snapshots(workspace, brand) -> list[int]:
    item = f.ContentItemFactory(brand=brand, workspace=workspace)
    publication = f.PublicationFactory(content_item=item)
    made = [f.MetricSnapshotFactory(publication=publication).pk for _ in range(ROWS)]
    return _stamp(MetricSnapshot, "collected_at", made)


def _deliveries(workspace, brand) -> list[int]:
    subscription, first = f.webhook_rows(workspace)
    made = [first.pk]
    for _ in range(ROWS - 1):
        made.append(
            WebhookDelivery.objects.create(
                workspace=workspace, subscription=subscription, event=first.event
            ).pk
        )
    return _stamp(WebhookDelivery, "created_at", made)


LISTS = {
    "event": (_events, ["", "starts_at", "-starts_at", "created_at"]),
    "publication": (_publications, ["", "due_at", "-due_at"]),
    "metric-snapshot": (_snapshots, ["", "collected_at", "-collected_at"]),
    "webhook-delivery": (_deliveries, ["", "created_at", "-created_at"]),
}
CASES = [(name, ordering) for name, (_, orderings) in LISTS.items() for ordering in orderings]


@pytest.mark.parametrize(("basename", "ordering"), CASES)
@pytest.mark.parametrize("size", [1, 2, 3])
def test_rows_equal_in_the_ordered_field_come_once_each_in_order_of_id(
    workspace, brand, basename, ordering, size
):
    made = LISTS[basename][0](workspace, brand)
    stamp_of = dict(zip(sorted(made, key=lambda pk: (pk % 3, pk)), STAMPS, strict=True))
    client = token_client(workspace, Role.ADMIN)
    query = f"?page_size={size}" + (f"&ordering={ordering}" if ordering else "")
    path = reverse(f"api:{basename}-list", kwargs={"workspace_slug": workspace.slug}) + query
    seen = []
    while path:
        body = client.get(path).json()
        seen += [row["id"] for row in body["results"]]
        path = body["next"]
    assert sorted(seen) == sorted(made) and len(seen) == ROWS
    # by the instant, then by id, both in the direction of the ordering's first term
    descending = (ordering or "-" * (basename in ("metric-snapshot", "webhook-delivery")))[:1]
    assert seen == sorted(made, key=lambda pk: (stamp_of[pk], pk), reverse=descending == "-")


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        (None, None),
        ([], []),
        ("due_at", ["due_at", "pk"]),
        (["-collected_at"], ["-collected_at", "-pk"]),
        (("-is_control", "key"), ["-is_control", "key", "-pk"]),
        (["-created_at", "-id"], ["-created_at", "-id"]),
        (["name", "pk"], ["name", "pk"]),
        (["-id"], ["-id"]),
    ],
)
def test_every_ordering_ends_with_the_key(ordering, expected):
    assert with_tie_break(ordering) == expected


def test_a_publication_list_is_ordered_to_the_key_in_sql(workspace, brand):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _publications(workspace, brand)
    client = token_client(workspace, Role.ADMIN)
    path = reverse("api:publication-list", kwargs={"workspace_slug": workspace.slug})
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path + "?page_size=2").status_code == 200
    listing = next(q["sql"] for q in queries if 'FROM "calendar_app_publication"' in q["sql"])
    order = listing.rsplit("ORDER BY", 1)[1]
    assert order.index('"due_at"') < order.index('"id"')
