"""``GET content-items/`` and ``GET content-items/<id>/`` are read as rows and written directly
(``calendar_app/api/read/content_items.py``, issue 16). They must answer exactly what
``ContentItemSerializer`` answered: every field, for every kind of item, zone and actor, with the
same pagination links, filters, ETags and 404s, in no more queries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import mixins
from rest_framework.test import APIRequestFactory

from calendar_app.api.etag import ETagMixin
from calendar_app.api.read.content_items import (
    COLUMNS,
    facts,
    represent,
    rows,
    stored_values,
)
from calendar_app.api.serializers.content import ContentItemSerializer
from calendar_app.api.views.content import ContentItemViewSet
from calendar_app.approvals.models import StepRule, StepVote
from calendar_app.crisis.models import Activation
from calendar_app.models import (
    ApiToken,
    ContentItem,
    ContentStatus,
    LatenessPolicy,
    Priority,
    Role,
)
from calendar_app.workflow import Actor
from tests import factories as f
from tests.api.conftest import token_client

ZONES = (
    "UTC",
    "Europe/Paris",
    "Europe/Dublin",  # negative DST: winter is its "summer time" offset
    "America/New_York",
    "America/St_Johns",  # half-hour offset
    "Australia/Lord_Howe",  # half-hour DST
    "Asia/Kolkata",
)

#: Instants where one of the zones above changes its offset (2027).
DST_CHANGES = (
    datetime(2027, 3, 28, 1, 0, tzinfo=UTC),  # Europe, spring
    datetime(2027, 10, 31, 1, 0, tzinfo=UTC),  # Europe, autumn
    datetime(2027, 3, 14, 7, 0, tzinfo=UTC),  # New York, spring
    datetime(2027, 11, 7, 6, 0, tzinfo=UTC),  # New York, autumn
    datetime(2027, 4, 3, 15, 0, tzinfo=UTC),  # Lord Howe, autumn
    datetime(2027, 10, 2, 15, 30, tzinfo=UTC),  # Lord Howe, spring
)

text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=6,
)
media_entries = st.lists(
    st.one_of(
        st.fixed_dictionaries({"asset": st.integers(1, 10**6), "alt_text": text}),
        st.fixed_dictionaries({"url": st.just("https://example.com/a.png"), "alt_text": text}),
        json_values,
    ),
    max_size=3,
)
scheduled_times = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2200, 12, 31), timezones=st.just(UTC)
    ),
    st.builds(
        lambda change, minutes, micro: change + timedelta(minutes=minutes, microseconds=micro),
        st.sampled_from(DST_CHANGES),
        st.integers(-120, 120),
        st.sampled_from([0, 0, 1, 999_999]),
    ),
)
stamps = st.one_of(
    st.none(),  # as saved
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
)

items = st.fixed_dictionaries(
    {
        "status": st.sampled_from(ContentStatus.values),
        "scheduled_at": scheduled_times,
        "title": text.map(lambda s: s[:200]),
        "body": text,
        "links": st.lists(st.one_of(text, st.integers(), st.none()), max_size=3),
        "media": media_entries,
        "thread": st.lists(
            st.one_of(st.fixed_dictionaries({"body": text, "media": media_entries}), json_values),
            max_size=2,
        ),
        "cta_text": text,
        "cta_url": st.sampled_from(["", "https://example.com/shop?x=1"]),
        "cta_button": text.map(lambda s: s[:60]),
        "without_cta": st.booleans(),
        "lateness_policy": st.sampled_from(LatenessPolicy.values),
        "lateness_tolerance": st.timedeltas(min_value=timedelta(0), max_value=timedelta(3650)),
        "priority": st.sampled_from(Priority.values),
        "version": st.integers(1, 1000),
        "channels": st.lists(st.integers(0, 4), max_size=4, unique=True),
        "event": st.booleans(),
        "experiment": st.booleans(),
        "created_by": st.sampled_from([None, "approver", "editor", "other"]),
        "last_edited_by": st.sampled_from([None, "approver", "editor", "other"]),
        "votes": st.lists(st.sampled_from(["approver", "admin", "other"]), max_size=2),
        "created_at": stamps,
        "updated_at": stamps,
    }
)

cases = st.fixed_dictionaries(
    {
        "zone": st.sampled_from(ZONES),
        "items": st.lists(items, min_size=1, max_size=4),
        # None: no chain; otherwise each step's members and rule
        "chain": st.one_of(
            st.none(),
            st.lists(
                st.tuples(
                    st.lists(st.sampled_from(["approver", "admin", "other"]), unique=True),
                    st.sampled_from(StepRule.values),
                ),
                min_size=1,
                max_size=2,
            ),
        ),
        "separate_duties": st.booleans(),
        "crisis": st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {
                    "brand": st.booleans(),
                    "channels": st.lists(st.integers(0, 4), max_size=2, unique=True),
                    "tag": st.sampled_from(["", "SPORT", "music"]),
                    "required_role": st.sampled_from(["approver", "admin"]),
                }
            ),
        ),
    }
)


def view_queryset(workspace: Any) -> Any:
    """The queryset the viewset reads items from (brand joined, channel ids prefetched)."""
    view = ContentItemViewSet()
    view.request = SimpleNamespace(workspace=workspace, actor=None)
    return view.base_queryset()


def by_serializer(workspace: Any, ids: list[int], actor: Actor | None, many: bool) -> list:
    queryset = view_queryset(workspace).filter(pk__in=ids).order_by("id")
    context = {"request": SimpleNamespace(workspace=workspace, actor=actor)}
    if many:
        return [
            list(d.items())
            for d in ContentItemSerializer(list(queryset), many=True, context=context).data
        ]
    return [list(ContentItemSerializer(item, context=context).data.items()) for item in queryset]


def stored_rows(queryset: Any) -> list[dict[str, Any]]:
    """The rows as the prepared reads give them (an unfiltered page, a detail): date-times as
    text (calendar_app.sql.utc_text)."""
    found = stored_values(queryset.prefetch_related(None))
    return [dict(zip(COLUMNS, row, strict=True)) for row in found]


def by_read_path(
    workspace: Any, ids: list[int], actor: Actor | None, many: bool, read: Any = rows
) -> list:
    page = list(read(view_queryset(workspace).filter(pk__in=ids).order_by("id")))
    if many:
        return [list(d.items()) for d in represent(facts(page), actor)]
    return [list(represent(facts([row]), actor)[0].items()) for row in page]


def build(workspace: Any, case: dict[str, Any]) -> tuple[list[int], dict[str, Any]]:
    """The case's rows: a brand in its zone, channels (one on a namesake brand, to tie the
    channel order), members, an approval chain, votes, a crisis, and the items."""
    brand = f.BrandFactory(workspace=workspace, name="Brand", time_zone=case["zone"])
    namesake = f.BrandFactory(workspace=workspace, name="Brand")
    channels = [
        f.ChannelFactory(brand=brand, workspace=workspace, network="sandbox", handle="@b"),
        f.ChannelFactory(brand=brand, workspace=workspace, network="mastodon", handle="@z"),
        f.ChannelFactory(brand=brand, workspace=workspace, network="mastodon", handle="@a"),
        f.ChannelFactory(brand=brand, workspace=workspace, network="bluesky", handle="@m"),
        f.ChannelFactory(brand=namesake, workspace=workspace, network="sandbox", handle="@b"),
    ]
    users = {
        role: f.MembershipFactory(workspace=workspace, role=role).user
        for role in (Role.VIEWER, Role.EDITOR, Role.APPROVER, Role.ADMIN)
    }
    users["other"] = f.MembershipFactory(workspace=workspace, role=Role.APPROVER).user
    event = f.EventFactory(workspace=workspace, themes=["Sport", "football"])
    experiment = f.ExperimentFactory(brand=brand, workspace=workspace)
    steps = []
    if case["chain"] is not None:
        f.ApprovalPolicyFactory(
            brand=brand, workspace=workspace, separate_duties=case["separate_duties"]
        )
        for order, (members, rule) in enumerate(case["chain"], start=1):
            steps.append(
                f.ApprovalStepFactory(
                    brand=brand,
                    workspace=workspace,
                    order=order,
                    rule=rule,
                    members=[users[m] for m in members],
                )
            )
    elif case["separate_duties"]:
        f.ApprovalPolicyFactory(brand=brand, workspace=workspace, separate_duties=True)
    crisis = case["crisis"]
    if crisis is not None:
        playbook = f.PlaybookFactory(
            workspace=workspace,
            brand=brand if crisis["brand"] else None,
            channels=[channels[i] for i in crisis["channels"]],
            tag=crisis["tag"],
            required_role=crisis["required_role"],
        )
        Activation.objects.create(
            workspace=workspace,
            playbook=playbook,
            activated_by_label="test",
            started_at=timezone.now(),
        )
    ids = []
    for spec in case["items"]:
        scheduled = spec["scheduled_at"]
        if scheduled is None and spec["status"] == ContentStatus.SCHEDULED:
            scheduled = DST_CHANGES[0]
        item = f.ContentItemFactory(
            brand=brand,
            workspace=workspace,
            channels=[channels[i] for i in spec["channels"]],
            status=spec["status"],
            scheduled_at=scheduled,
            title=spec["title"],
            body=spec["body"],
            links=spec["links"],
            media=spec["media"],
            thread=spec["thread"],
            cta_text=spec["cta_text"],
            cta_url=spec["cta_url"],
            cta_button=spec["cta_button"],
            without_cta=spec["without_cta"],
            lateness_policy=spec["lateness_policy"],
            lateness_tolerance=spec["lateness_tolerance"],
            priority=spec["priority"],
            version=spec["version"],
            event=event if spec["event"] else None,
            experiment=experiment if spec["experiment"] else None,
            created_by=users.get(spec["created_by"]),
            last_edited_by=users.get(spec["last_edited_by"]),
        )
        stamps = {
            name: spec[name] for name in ("created_at", "updated_at") if spec[name] is not None
        }
        if stamps:
            ContentItem.objects.filter(pk=item.pk).update(**stamps)
        for step in steps[:1]:
            for voter in spec["votes"]:
                StepVote.objects.get_or_create(
                    workspace=workspace,
                    content_item=item,
                    version=item.version,
                    step=step,
                    decided_by=users[voter],
                    defaults={"decided_by_label": voter},
                )
        ids.append(item.pk)
    return ids, users


def actors(workspace: Any, users: dict[str, Any]) -> list[Actor | None]:
    people = [Actor.for_user(users[role], workspace) for role in Role.values]
    key, _ = ApiToken.issue(workspace=workspace, name="key", role=Role.APPROVER)
    return [None, *people, Actor.for_token(key), Actor.system()]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases)
def test_the_read_path_writes_exactly_what_the_serializer_writes(workspace, case):
    """Every field of every generated item, for every actor, alone (a detail) and as a page
    (one approval cache shared by its items), keys in the same order."""
    with transaction.atomic():
        ids, users = build(workspace, case)
        for actor in actors(workspace, users):
            for many in (True, False):
                expected = by_serializer(workspace, ids, actor, many)
                assert by_read_path(workspace, ids, actor, many) == expected
                assert by_read_path(workspace, ids, actor, many, stored_rows) == expected
        transaction.set_rollback(True)


# -- through HTTP: the same answers as the serializer's path, links, ETags and errors included


class SerializerPath(ContentItemViewSet):
    """The viewset as it was before the read path: list and detail through the serializer."""

    list = mixins.ListModelMixin.list
    retrieve = ETagMixin.retrieve


def both(client: Any, path: str, action: str, headers: dict[str, str] | None = None, **kwargs):
    """The answer of the real endpoint and of :class:`SerializerPath` to the same request."""
    headers = headers or {}
    ours = client.get(path, headers=headers)
    request = APIRequestFactory().get(
        path, HTTP_AUTHORIZATION=f"Token {client.token}", headers=headers
    )
    theirs = SerializerPath.as_view({"get": action})(request, **kwargs)
    theirs.render()
    return ours, theirs


def same(ours: Any, theirs: Any) -> Any:
    assert ours.status_code == theirs.status_code, (ours.content, theirs.content)
    assert ours.get("ETag") == theirs.get("ETag")
    body = json.loads(ours.content) if ours.content else None
    assert body == (json.loads(theirs.content) if theirs.content else None)
    if isinstance(body, dict) and "results" in body:  # same order of keys, item by item
        assert [list(r) for r in body["results"]] == [
            list(r) for r in json.loads(theirs.content)["results"]
        ]
    return body


@pytest.fixture
def catalogue(workspace):
    """Nine items over two brands: statuses, channels, priorities, times, one in review under a
    chain the approver is on."""
    paris = f.BrandFactory(workspace=workspace, time_zone="Europe/Paris")
    york = f.BrandFactory(workspace=workspace, time_zone="America/New_York")
    approver = f.MembershipFactory(workspace=workspace, role=Role.APPROVER).user
    f.ApprovalStepFactory(brand=paris, workspace=workspace, members=[approver])
    channels = [f.ChannelFactory(brand=paris, workspace=workspace) for _ in range(3)]
    york_channel = f.ChannelFactory(brand=york, workspace=workspace)
    statuses = [
        ContentStatus.DRAFT,
        ContentStatus.IN_REVIEW,
        ContentStatus.APPROVED,
        ContentStatus.SCHEDULED,
        ContentStatus.CANCELLED,
        ContentStatus.PUBLISHED,
    ]
    made = []
    for i in range(9):
        brand = paris if i % 3 else york
        made.append(
            f.ContentItemFactory(
                brand=brand,
                workspace=workspace,
                status=statuses[i % len(statuses)],
                scheduled_at=DST_CHANGES[i % len(DST_CHANGES)] + timedelta(minutes=i),
                priority=Priority.values[i % 3],
                channels=channels[: i % 4] if brand is paris else [york_channel],
                links=[f"https://example.com/{i}"],
                created_by=approver if i == 1 else None,
            )
        )
    return SimpleNamespace(items=made, paris=paris, york=york, channels=channels, user=approver)


def list_path(workspace: Any, query: str = "") -> str:
    return reverse("api:content-item-list", kwargs={"workspace_slug": workspace.slug}) + query


@pytest.mark.parametrize("role", [Role.VIEWER, Role.APPROVER, Role.ADMIN])
def test_every_page_and_link_is_the_serializers(workspace, catalogue, role):
    client = token_client(workspace, role, user=catalogue.user if role == Role.APPROVER else None)
    kwargs = {"workspace_slug": workspace.slug}
    path = list_path(workspace, "?page_size=2")
    seen = []
    while path:  # forwards through every page, then back again
        body = same(*both(client, path, "list", **kwargs))
        seen += [row["id"] for row in body["results"]]
        path = body["next"]
    assert sorted(seen) == sorted(item.pk for item in catalogue.items)
    back = same(*both(client, list_path(workspace, "?page_size=4"), "list", **kwargs))
    back = same(*both(client, back["next"], "list", **kwargs))
    assert back["previous"]
    same(*both(client, back["previous"], "list", **kwargs))


def test_a_pages_channels_come_in_the_serializers_order_with_its_rows(workspace):
    """Channels over brands whose names sort against their ids, equal networks and handles, and
    items with none, walked both ways: the serializer's lists. On PostgreSQL the page's
    statement reads them with its rows (one statement fewer than on SQLite, where a statement
    costs no round trip)."""
    zulu = f.BrandFactory(workspace=workspace, name="Zulu")
    alpha = f.BrandFactory(workspace=workspace, name="Alpha")
    channels = [
        f.ChannelFactory(brand=zulu, workspace=workspace, network="bluesky", handle="@a"),
        f.ChannelFactory(brand=alpha, workspace=workspace, network="sandbox", handle="@b"),
        f.ChannelFactory(brand=alpha, workspace=workspace, network="sandbox", handle="@a"),
        f.ChannelFactory(brand=alpha, workspace=workspace, network="bluesky", handle="@z"),
    ]
    made = [
        f.ContentItemFactory(brand=zulu, workspace=workspace, channels=chosen)
        for chosen in (channels, [], channels[:2], channels[2:][::-1], [])
    ]
    assert [channel.brand_id for channel in channels[:2]] == [zulu.pk, alpha.pk]
    client = token_client(workspace, Role.VIEWER)
    kwargs = {"workspace_slug": workspace.slug}
    path, seen = list_path(workspace, "?page_size=2"), {}
    while path:
        body = same(*both(client, path, "list", **kwargs))
        seen.update({row["id"]: row["channels"] for row in body["results"]})
        path = body["next"]
    expected = [channels[i].pk for i in (3, 2, 1, 0)]  # Alpha's by network, handle; then Zulu's
    assert seen[made[0].pk] == expected
    assert seen[made[1].pk] == seen[made[4].pk] == []
    assert seen[made[2].pk] == [channels[1].pk, channels[0].pk]
    back = same(*both(client, list_path(workspace, "?page_size=3"), "list", **kwargs))
    back = same(*both(client, back["next"], "list", **kwargs))
    same(*both(client, back["previous"], "list", **kwargs))

    with CaptureQueriesContext(connection) as queries:
        assert client.get(list_path(workspace)).status_code == 200
    reading_links = [q["sql"] for q in queries if "calendar_app_contentitem_channels" in q["sql"]]
    assert len(reading_links) == 1
    with_the_rows = '"page"' in reading_links[0] and "ARRAY_AGG" in reading_links[0]
    assert with_the_rows == (connection.vendor == "postgresql")


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?status=draft&status=in_review",
        "?priority=high",
        "?brand={paris}",
        "?channel={channel}",
        "?scheduled_after=2027-03-20T00:00:00Z&scheduled_before=2027-11-01T00:00:00Z",
        "?ordering=-updated_at",
        "?ordering=id&page_size=3",
        "?ordering=bogus",
        "?page_size=0",
        "?brand=999999999",
        "?scheduled_before=",
        "?cursor=garbage",
    ],
)
def test_filters_and_ordering_answer_as_before(workspace, catalogue, other_workspace, query):
    client = token_client(workspace, Role.EDITOR)
    query = query.format(paris=catalogue.paris.pk, channel=catalogue.channels[1].pk)
    same(*both(client, list_path(workspace, query), "list", workspace_slug=workspace.slug))


def test_a_detail_is_the_serializers_with_the_same_etag(workspace, catalogue, other_workspace):
    client = token_client(workspace, Role.APPROVER, user=catalogue.user)
    for item in catalogue.items:
        kwargs = {"workspace_slug": workspace.slug, "pk": item.pk}
        path = reverse("api:content-item-detail", kwargs=kwargs)
        ours, theirs = both(client, path, "retrieve", **kwargs)
        assert same(ours, theirs)["id"] == item.pk
        ours, theirs = both(client, path, "retrieve", {"If-None-Match": ours["ETag"]}, **kwargs)
        assert ours.status_code == 304
        same(ours, theirs)
        # a filter applies to a detail too: an item it excludes is a 404, as before
        same(*both(client, path + "?status=failed", "retrieve", **kwargs))
    foreign = f.ContentItemFactory(brand=f.BrandFactory(workspace=other_workspace))
    for pk in (foreign.pk, 999_999_999, "abc"):
        kwargs = {"workspace_slug": workspace.slug, "pk": pk}
        path = reverse("api:content-item-detail", kwargs=kwargs)
        ours, theirs = both(client, path, "retrieve", **kwargs)
        assert ours.status_code == 404
        same(ours, theirs)


def count_queries(client: Any, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_queries_stay_constant_and_no_more_than_the_serializers(workspace):
    """One item or twenty, in review under a chain with votes and channels each: the same
    number of queries, and never more than the serializer's path made."""
    brand = f.BrandFactory(workspace=workspace)
    approver = f.MembershipFactory(workspace=workspace, role=Role.APPROVER).user
    step = f.ApprovalStepFactory(brand=brand, workspace=workspace, members=[approver])
    client = token_client(workspace, Role.APPROVER, user=approver)
    path = list_path(workspace, "?page_size=50")

    def add(n: int) -> None:
        for _ in range(n):
            item = f.ContentItemFactory(
                brand=brand,
                workspace=workspace,
                status=ContentStatus.IN_REVIEW,
                channels=[f.ChannelFactory(brand=brand, workspace=workspace) for _ in range(2)],
            )
            StepVote.objects.create(
                workspace=workspace,
                content_item=item,
                version=item.version,
                step=step,
                decided_by=f.MembershipFactory(workspace=workspace).user,
                decided_by_label="someone",
            )

    add(1)
    client.get(path)  # the token's first use is written once
    one = count_queries(client, path)
    add(19)
    twenty = count_queries(client, path)
    assert one == twenty

    reference = SerializerPath.as_view({"get": "list"})
    request = APIRequestFactory().get(path, HTTP_AUTHORIZATION=f"Token {client.token}")
    with CaptureQueriesContext(connection) as before:
        reference(request, workspace_slug=workspace.slug).render()
    assert twenty <= len(before)

    item = ContentItem.objects.filter(workspace=workspace).first()
    kwargs = {"workspace_slug": workspace.slug, "pk": item.pk}
    detail = reverse("api:content-item-detail", kwargs=kwargs)
    request = APIRequestFactory().get(detail, HTTP_AUTHORIZATION=f"Token {client.token}")
    with CaptureQueriesContext(connection) as before:
        SerializerPath.as_view({"get": "retrieve"})(request, **kwargs).render()
    assert count_queries(client, detail) <= len(before)


def test_an_unsaved_attribute_the_workflow_may_read_comes_from_the_model(workspace):
    """A rule reading more of the item than the row gives still gets the model's value."""
    item = f.ContentItemFactory(workspace=workspace, brand=f.BrandFactory(workspace=workspace))
    (row,) = rows(view_queryset(workspace).filter(pk=item.pk))
    (stand_in,) = facts([row])
    assert stand_in.title == item.title
    assert stand_in.brand == item.brand
    assert list(stand_in.channels.values_list("pk", flat=True)) == list(
        item.channels.values_list("pk", flat=True)
    )
    assert stand_in.get_status_display() == item.get_status_display()


def test_a_crisis_scoped_to_a_channel_and_a_tag_hides_approve_alike(workspace):
    """The crisis guard reads the item's channels and its event's themes: from the row's channel
    ids and the event loaded on demand, with the serializer's result."""
    case = {
        "zone": "Europe/Paris",
        "chain": None,
        "separate_duties": False,
        "crisis": {"brand": True, "channels": [1], "tag": "SPORT", "required_role": "admin"},
        "items": [
            {
                **spec,
                "status": ContentStatus.IN_REVIEW,
                "channels": channels,
                "event": event,
            }
            for channels, event in (([1, 2], True), ([2], True), ([1], False), ([], True))
            for spec in [ITEM]
        ],
    }
    ids, users = build(workspace, case)
    approver = Actor.for_user(users[Role.APPROVER], workspace)
    shown = by_read_path(workspace, ids, approver, many=True)
    assert shown == by_serializer(workspace, ids, approver, many=True)
    approvable = ["approve" in dict(item)["allowed_actions"] for item in shown]
    assert approvable == [False, True, True, True]


ITEM = {
    "scheduled_at": None,
    "title": "Recall",
    "body": "Body",
    "links": [],
    "media": [],
    "thread": [],
    "cta_text": "",
    "cta_url": "",
    "cta_button": "",
    "without_cta": False,
    "lateness_policy": LatenessPolicy.SEND_LATE,
    "lateness_tolerance": timedelta(minutes=15),
    "priority": Priority.NORMAL,
    "version": 1,
    "experiment": False,
    "created_by": None,
    "last_edited_by": None,
    "votes": [],
    "created_at": None,
    "updated_at": None,
}
