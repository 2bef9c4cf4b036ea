"""Surges against each watch's own baseline raise one alert, a webhook event and links; never a post."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calendar_app.listening.surges import check_watch
from calendar_app.listening.terms import matches, term_problems
from calendar_app.models import Alert, ContentItem, Publication, WebhookEvent
from tests import factories as f

NOW = timezone.now().replace(microsecond=0)


@pytest.fixture
def watch(brand):
    f.webhook_rows(brand.workspace)
    return f.WatchFactory(brand=brand, workspace=brand.workspace, min_messages=5)


def messages(watch, n, *, ago: timedelta, tone="neutral", spread=timedelta(minutes=50)):
    channel = f.ChannelFactory(brand=watch.brand, workspace=watch.workspace)
    for i in range(n):
        f.MessageFactory(
            channel=channel,
            watch=watch,
            tone=tone,
            published_at=NOW - ago - spread * (i / max(n, 1)),
        )


def test_quiet_watch_raises_nothing(watch):
    for day in range(1, 7):
        messages(watch, 4, ago=timedelta(days=day))
    messages(watch, 3, ago=timedelta(minutes=1))
    assert check_watch(watch, NOW) == []


def test_volume_surge_raises_one_alert_with_links(watch):
    playbook = f.PlaybookFactory(workspace=watch.workspace, brand=watch.brand)
    crisis = f.ReactiveTemplateFactory(
        brand=watch.brand, workspace=watch.workspace, scenario="crisis"
    )
    f.ReactiveTemplateFactory(brand=watch.brand, workspace=watch.workspace, scenario="win")
    for day in range(1, 7):
        messages(watch, 24, ago=timedelta(days=day), spread=timedelta(hours=23))
    messages(watch, 40, ago=timedelta(minutes=1), tone="negative")
    posts_before = (ContentItem.objects.count(), Publication.objects.count())
    alerts = check_watch(watch, NOW)
    assert {a.reason for a in alerts} == {"volume", "negative"}
    assert check_watch(watch, NOW + timedelta(minutes=5)) == [], "one surge, one alert"
    event = WebhookEvent.objects.filter(type="listening.surge").first()
    assert event is not None
    assert [p["id"] for p in event.payload["playbooks"]] == [playbook.pk]
    assert [t["id"] for t in event.payload["templates"]] == [crisis.pk]
    assert (ContentItem.objects.count(), Publication.objects.count()) == posts_before


def test_negative_share_jump_alone(watch):
    watch.surge_factor = 100  # volume as usual for this watch
    watch.save()
    for day in range(1, 7):
        messages(watch, 10, ago=timedelta(days=day))
    messages(watch, 6, ago=timedelta(minutes=1), tone="negative")
    messages(watch, 4, ago=timedelta(minutes=2))
    alerts = check_watch(watch, NOW)
    assert [a.reason for a in alerts] == ["negative"]
    assert Alert.objects.get().negative_share == pytest.approx(0.6)


def test_sandbox_surge_is_found(brand, sandbox_dir):
    """End to end: the sandbox's scripted surge, collected and checked, raises an alert."""
    from calendar_app.listening.collect import collect_channel

    watch = f.WatchFactory(brand=brand, workspace=brand.workspace, terms=["acme"])
    channel = f.ChannelFactory(
        brand=brand,
        workspace=brand.workspace,
        handle="acme",
        settings={"surge_at": (timezone.now() - timedelta(minutes=50)).isoformat()},
    )
    collect_channel(channel)
    reasons = {a.reason for a in check_watch(watch)}
    assert "volume" in reasons


@pytest.mark.parametrize(
    "terms",
    [
        [],
        "acme",
        ["a"],
        ["*"],
        ["the"],
        ["#"],
        ["%acme%"],
        ["x" * 101],
        ["ok\x00no"],
        [1],
        ["a"] * 21,
    ],
)
def test_terms_that_match_everything_are_refused(terms):
    assert term_problems(terms)


def test_term_matching():
    assert matches(["acme"], "Acme's new phone")
    assert matches(["acme"], "#acme rocks")
    assert not matches(["acme"], "acmeology")
    assert matches(["#AcmeDay"], "on #acmeday!")
    assert matches(["new phone"], "The NEW PHONE is here")
