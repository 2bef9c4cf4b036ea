"""Firing from a moment (armed templates only, inside the window), the live view and the report."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calendar_app.models import Fire, Publication, PublicationStatus, Role
from calendar_app.moments import services
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_moment(brand, armed):
    """A moment whose window is open now, arming one template (``other`` is not armed)."""
    template = armed(body="{{ scorer }} scores!", max_fires=10, cooldown=timedelta(0))
    now = timezone.now()
    moment = f.MomentFactory(
        brand=brand,
        templates=[template],
        starts_at=now - timedelta(minutes=10),
        ends_at=now + timedelta(hours=2),
    )
    return moment, template


def fire(moment, template, approver, capture, **values):
    with capture(execute=True):
        return services.fire(moment, template.pk, approver, values or {"scorer": "Mbappé"})


def test_firing_an_armed_template_goes_straight_out(
    live_moment, actor, django_capture_on_commit_callbacks
):
    moment, template = live_moment
    fired = fire(moment, template, actor(Role.APPROVER), django_capture_on_commit_callbacks)
    publication = Publication.objects.get(content_item__fire=fired)
    assert publication.status == PublicationStatus.PUBLISHED
    assert fired.content_item.body == "Mbappé scores!"


def test_firing_an_unarmed_template_is_refused(live_moment, brand, armed, actor):
    moment, _ = live_moment
    unarmed = armed()
    with pytest.raises(services.MomentError) as refused:
        services.fire(moment, unarmed.pk, actor(Role.APPROVER), {"moment": "x"})
    assert refused.value.code == "not_armed" and refused.value.field == "template"
    assert not Fire.objects.exists()


def test_firing_outside_the_window_is_refused(brand, armed, actor):
    template = armed()
    moment = f.MomentFactory(brand=brand, templates=[template])  # opens in two hours
    with pytest.raises(services.MomentError) as refused:
        services.fire(moment, template.pk, actor(Role.APPROVER), {"moment": "x"})
    assert refused.value.code == "outside_window"


def test_ordinary_guardrails_still_apply(live_moment, actor):
    moment, template = live_moment
    with pytest.raises(services.MomentError) as refused:
        services.fire(moment, template.pk, actor(Role.APPROVER), {})
    assert refused.value.code == "missing_values"
    with pytest.raises(services.MomentError) as refused:
        services.fire(moment, template.pk, actor(Role.EDITOR), {"scorer": "x"})
    assert refused.value.code == "permission_denied"


def test_live_shows_fires_posts_latency_failures_and_first_engagement(
    live_moment, actor, channel, django_capture_on_commit_callbacks
):
    moment, template = live_moment
    approver = actor(Role.APPROVER)
    fired = fire(moment, template, approver, django_capture_on_commit_callbacks)
    publication = Publication.objects.get(content_item__fire=fired)
    first = f.MetricSnapshotFactory(
        publication=publication, collected_at=timezone.now(), impressions=10, clicks=1
    )
    f.MetricSnapshotFactory(
        publication=publication,
        collected_at=timezone.now() + timedelta(minutes=5),
        impressions=99,
        clicks=7,
    )
    view = services.live(moment)
    assert view["open"] is True
    assert [x["id"] for x in view["fires"]] == [fired.pk]
    row = view["publications"][0]
    assert row["status"] == "published" and row["channel"] == channel.pk
    assert row["fire_to_live_s"] >= 0
    assert row["first_engagement"]["impressions"] == first.impressions
    assert view["failures"] == []
    Publication.objects.filter(pk=publication.pk).update(
        status=PublicationStatus.FAILED, last_error_reason="Token revoked"
    )
    assert services.live(moment)["failures"][0]["error"] == "Token revoked"
    cursor = timezone.now() + timedelta(minutes=1)
    later = services.live(moment, since=cursor)
    assert later["publications"] == [] and len(later["fires"]) == 1
    arriving = f.MetricSnapshotFactory(publication=publication)
    arriving.created_at = cursor + timedelta(seconds=1)
    arriving.save()
    assert [p["id"] for p in services.live(moment, since=cursor)["publications"]] == [
        publication.pk
    ]


def test_live_query_count_is_constant(live_moment, actor, django_capture_on_commit_callbacks):
    moment, template = live_moment
    approver = actor(Role.APPROVER)
    fire(moment, template, approver, django_capture_on_commit_callbacks)
    with CaptureQueriesContext(connection) as one:
        services.live(moment)
    for n in range(4):
        fire(moment, template, approver, django_capture_on_commit_callbacks, scorer=f"P{n}")
    for publication in Publication.objects.all():
        f.MetricSnapshotFactory(publication=publication)
    with CaptureQueriesContext(connection) as five:
        view = services.live(moment)
    assert len(view["fires"]) == 5
    # 3 for fires and posts, 2 for the conversation around the moment (listening)
    assert len(five) == len(one) == 5


def test_report_figures(live_moment, brand, actor, django_capture_on_commit_callbacks):
    moment, template = live_moment
    second_channel = f.ChannelFactory(brand=brand, workspace=brand.workspace)
    template.channels.add(second_channel)
    approver = actor(Role.APPROVER)
    fires = [
        fire(moment, template, approver, django_capture_on_commit_callbacks, scorer=f"P{n}")
        for n in range(2)
    ]
    publications = list(Publication.objects.filter(content_item__fire__in=fires).order_by("pk"))
    assert len(publications) == 4
    for seconds, publication in zip([1, 2, 3, 4], publications, strict=True):
        fired_at = publication.content_item.fire.fired_at
        Publication.objects.filter(pk=publication.pk).update(
            published_at=fired_at + timedelta(seconds=seconds)
        )
        f.MetricSnapshotFactory(publication=publication, impressions=1, clicks=0)
        f.MetricSnapshotFactory(
            publication=publication,
            collected_at=timezone.now() + timedelta(minutes=1),
            impressions=100,
            clicks=seconds,
        )
    result = services.report(moment)
    assert result["fired"] == 2 and result["published"] == 4 and result["failed"] == 0
    assert result["latency"] == {"sandbox": {"posts": 4, "median_s": 2.5, "p95_s": 4.0}}
    (entry,) = result["templates"]
    assert entry["fires"] == 2 and entry["posts"] == 4
    assert entry["impressions"] == 400 and entry["clicks"] == 10


def test_window_events_are_sent_once_each(workspace, brand, armed):
    from calendar_app.models import Moment, WebhookEvent

    f.webhook_rows(workspace)
    template = armed(cooldown=timedelta(0))
    start = timezone.now() + timedelta(minutes=30)
    moment = f.MomentFactory(
        brand=brand, templates=[template], starts_at=start, ends_at=start + timedelta(hours=2)
    )
    assert services.tick(now=start - timedelta(minutes=1)) == {
        "checks": 1,
        "started": 0,
        "ended": 0,
        "held": 0,
        "released": 0,
    }
    assert services.tick(now=start + timedelta(seconds=1))["started"] == 1
    assert services.tick(now=start + timedelta(minutes=1))["started"] == 0
    end = start + timedelta(hours=2)
    assert services.tick(now=end)["ended"] == 1
    assert services.tick(now=end + timedelta(minutes=1))["ended"] == 0
    started = WebhookEvent.objects.get(type="moment.started")
    assert started.payload["moment"]["id"] == moment.pk
    ended = WebhookEvent.objects.get(type="moment.ended")
    assert ended.payload["report"]["fired"] == 0
    assert set(Moment.objects.get(pk=moment.pk).checks_done) >= {"started", "ended", "T-1h"}


def test_no_window_events_for_a_moment_long_past(brand, armed):
    from calendar_app.models import WebhookEvent

    start = timezone.now() - timedelta(days=2)
    f.MomentFactory(brand=brand, starts_at=start, ends_at=start + timedelta(hours=2))
    assert services.tick() == {
        "checks": 0,
        "started": 0,
        "ended": 0,
        "held": 0,
        "released": 0,
    }
    assert not WebhookEvent.objects.filter(type__startswith="moment.").exists()
