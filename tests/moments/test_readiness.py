"""The readiness check: every armed template × channel green, or red with each reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calendar_app.crisis.services import activate
from calendar_app.models import ChannelStatus, Moment, Role, WebhookEvent
from calendar_app.moments import readiness
from tests import factories as f

pytestmark = pytest.mark.django_db


def items_by(report):
    return {(i["template"], i["channel"]): i for i in report["items"]}


def codes(item):
    return [r["code"] for r in item["reasons"]]


def test_all_green(brand, armed):
    template = armed()
    moment = f.MomentFactory(brand=brand, templates=[template], sample_values={"moment": "Goal!"})
    report = readiness.check(moment)
    assert report["ok"] is True
    assert report["red"] == 0 and report["green"] == 1
    item = report["items"][0]
    assert item["ok"] and item["reasons"] == []
    assert item["parts"][0]["text"] == "What a moment: Goal!!"
    stored = Moment.objects.get(pk=moment.pk)
    assert stored.readiness_ok is True and stored.readiness["green"] == 1
    assert not WebhookEvent.objects.filter(type="moment.readiness_failed").exists()


def test_missing_sample_uses_a_stand_in_and_says_so(brand, armed):
    template = armed(body="{{ scorer }} scores!")
    moment = f.MomentFactory(brand=brand, templates=[template])
    report = readiness.check(moment)
    assert report["ok"]
    assert "scorer" in report["templates"][0]["notes"][0]
    assert len(readiness.stand_in("scorer")) == readiness.SAMPLE_LENGTH


def test_too_long_for_one_network_only(brand, channel, armed):
    webhook = f.ChannelFactory(
        brand=brand,
        workspace=brand.workspace,
        network="webhook",
        settings={"url": "https://93.184.215.14/hook"},
        secrets={"signing_secret": "s" * 32},
    )
    template = armed(body="{{ moment }} " + "x" * 5200, channels=[channel, webhook])
    moment = f.MomentFactory(brand=brand, templates=[template], sample_values={"moment": "Go"})
    report = readiness.check(moment)
    by = items_by(report)
    assert not report["ok"]
    assert not by[(template.pk, channel.pk)]["ok"]
    assert "too_long" in codes(by[(template.pk, channel.pk)])[0]
    assert by[(template.pk, webhook.pk)]["reasons"] == []


def test_failing_credentials_are_tested_once_per_channel(brand, channel, armed):
    channel.settings = {"fail_mode": "not-a-mode"}
    channel.save()
    first, second = armed(), armed()
    moment = f.MomentFactory(brand=brand, templates=[first, second])
    report = readiness.check(moment)
    assert report["red"] == 2
    for item in report["items"]:
        assert "credentials" in codes(item)
        assert "connection test failed" in item["reasons"][0]["message"]
    assert [c["ok"] for c in report["channels"]] == [False]


def test_paused_and_rate_limited_channels(brand, channel, armed):
    now = timezone.now()
    paused = f.ChannelFactory(brand=brand, workspace=brand.workspace)
    paused.paused_until = now + timedelta(minutes=30)
    paused.save()
    channel.rate_limit = {"limit": 300, "remaining": 1, "reset_at": None}
    channel.save()
    template = armed(channels=[channel, paused], max_fires=3)
    moment = f.MomentFactory(brand=brand, templates=[template])
    by = items_by(readiness.check(moment))
    assert codes(by[(template.pk, paused.pk)]) == ["rate_limited"]
    assert codes(by[(template.pk, channel.pk)]) == ["low_headroom"]
    assert "fewer than the template's 3" in by[(template.pk, channel.pk)]["reasons"][0]["message"]


def test_disconnected_channel_and_unapproved_template(brand, channel, armed):
    channel.set_status(ChannelStatus.EXPIRED, "token expired")
    template = armed()
    template.body = "Changed {{ moment }}"
    template.save()
    moment = f.MomentFactory(brand=brand, templates=[template])
    item = readiness.check(moment)["items"][0]
    assert set(codes(item)) >= {"not_approved", "channel_not_connected"}


def test_bad_links(brand, armed):
    template = armed(links=["http://10.0.0.1/admin", "ftp://example.com/x"])
    moment = f.MomentFactory(brand=brand, templates=[template])
    reasons = readiness.check(moment)["items"][0]["reasons"]
    assert [r["code"] for r in reasons if r["code"] == "bad_link"] == ["bad_link", "bad_link"]
    assert readiness.link_problem("https://example.com/{x}") == ""


def test_crisis_on_the_brand_is_red(brand, armed, actor):
    template = armed()
    moment = f.MomentFactory(brand=brand, templates=[template])
    activate(f.PlaybookFactory(workspace=brand.workspace, brand=brand), actor(Role.ADMIN))
    item = readiness.check(moment)["items"][0]
    assert codes(item) == ["crisis_active"]


def test_red_sends_a_webhook_event(workspace, brand, channel, armed):
    f.webhook_rows(workspace)
    channel.settings = {"fail_mode": "bogus"}
    channel.save()
    moment = f.MomentFactory(brand=brand, templates=[armed()])
    readiness.check(moment)
    event = WebhookEvent.objects.get(type="moment.readiness_failed")
    assert event.payload["moment"]["id"] == moment.pk
    assert event.payload["red_count"] == 1
    assert event.payload["red"][0]["reasons"][0]["code"] == "credentials"


def test_nothing_armed_is_not_ready(brand):
    report = readiness.check(f.MomentFactory(brand=brand))
    assert report["ok"] is False and report["reason"]


def test_due_checks_run_once_each(brand, armed):
    template = armed()
    start = timezone.now() + timedelta(days=2)
    moment = f.MomentFactory(brand=brand, templates=[template], starts_at=start)
    runs = []
    for before, expected in [
        (timedelta(hours=25), 0),
        (timedelta(hours=24), 1),
        (timedelta(hours=23), 0),
        (timedelta(hours=1), 1),
        (timedelta(minutes=59), 0),
        (timedelta(minutes=5), 1),
        (timedelta(minutes=1), 0),
        (timedelta(minutes=-1), 0),
    ]:
        ran = readiness.run_due_checks(now=start - before)
        runs.append(ran)
        assert ran == expected, before
    moment.refresh_from_db()
    assert sorted(moment.checks_done) == ["T-1h", "T-24h", "T-5min"]
    assert moment.readiness["trigger"] == "T-5min"


def test_a_late_moment_runs_only_the_latest_mark(brand, armed):
    start = timezone.now() + timedelta(minutes=30)
    moment = f.MomentFactory(brand=brand, templates=[armed()], starts_at=start)
    assert readiness.run_due_checks(now=timezone.now()) == 1
    assert readiness.run_due_checks(now=timezone.now()) == 0
    moment.refresh_from_db()
    assert moment.readiness["trigger"] == "T-1h"
    assert sorted(moment.checks_done) == ["T-1h", "T-24h"]


def test_untracked_call_to_action_is_noted(brand, armed, settings):
    settings.KAIROS_TRACKING_BASE_URL = ""
    template = armed(cta_text="Shop", cta_url="https://example.com/shop")
    report = readiness.check(f.MomentFactory(brand=brand, templates=[template]))
    assert report["ok"]
    assert any("untracked" in note for note in report["templates"][0]["notes"])
