"""The readiness check reaches out: the links answer (asked through the SSRF-safe pinned client,
against a real loopback server the operator allowed), daily caps leave room for the template's
remaining fires, and credentials are renewed where the network allows it - each red item with
its reason, and in the ``moment.readiness_failed`` event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calendar_app.models import Channel, PublicationStatus, WebhookEvent
from calendar_app.moments import readiness
from plugins.sandbox.network import SandboxNetwork
from publishers import Capabilities, CredentialsExpired, hookimpl
from publishers.testing import FakeServer, Reply
from tests import factories as f
from tests.delivery.conftest import plugins_with  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def items_by(report):
    return {(i["template"], i["channel"]): i for i in report["items"]}


def codes(item):
    return [r["code"] for r in item["reasons"]]


@pytest.fixture
def reach(settings, monkeypatch):
    settings.KAIROS_READINESS_CHECK_LINKS = True
    settings.KAIROS_READINESS_LINK_TIMEOUT = 0.5
    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", readiness.LINK_CHECK)


def test_links_that_answer_are_green_and_the_others_red(reach, workspace, brand, armed):
    f.webhook_rows(workspace)

    def answer(request):
        if request.path.startswith("/gone"):
            return Reply(404)
        if request.path.startswith("/no-head") and request.method == "HEAD":
            return Reply(405)
        return Reply(200)

    with FakeServer(answer) as server:
        good = armed(links=[f"{server.url}/live/{{{{ moment }}}}"], cta_url=f"{server.url}/no-head")
        bad = armed(links=[f"{server.url}/gone"])
        moment = f.MomentFactory(
            brand=brand, templates=[good, bad], sample_values={"moment": "final"}
        )
        report = readiness.check(moment)
        asked = [(r.method, r.path) for r in server.requests]
    by = {i["template"]: i for i in report["items"]}
    assert by[good.pk]["ok"], by[good.pk]["reasons"]
    assert codes(by[bad.pk]) == ["link_unreachable"]
    assert "answers HTTP 404" in by[bad.pk]["reasons"][0]["message"]
    assert ("HEAD", "/live/final") in asked  # placeholders filled with the samples
    assert ("GET", "/no-head") in asked  # HEAD refused: asked again with GET
    assert all(r.headers["user-agent"] == readiness.USER_AGENT for r in server.requests)
    assert report["links_checked"] == 3
    event = WebhookEvent.objects.get(type="moment.readiness_failed")
    assert event.payload["red"][0]["reasons"][0]["code"] == "link_unreachable"


def test_a_silent_or_closed_site_is_red(reach, brand, armed):
    with FakeServer(default=Reply(200, delay=2)) as server:
        slow = armed(links=[f"{server.url}/slow"])
        report = readiness.check(f.MomentFactory(brand=brand, templates=[slow]))
    with FakeServer() as closed:
        url = closed.url
    gone = armed(links=[f"{url}/x"])
    report2 = readiness.check(f.MomentFactory(brand=brand, templates=[gone]))
    assert codes(report["items"][0]) == ["link_unreachable"]
    assert "does not answer" in report["items"][0]["reasons"][0]["message"]
    assert codes(report2["items"][0]) == ["link_unreachable"]


def test_loopback_links_are_refused_unless_the_operator_allows_them(
    settings, monkeypatch, brand, armed
):
    settings.KAIROS_READINESS_CHECK_LINKS = True
    monkeypatch.delenv("KAIROS_ALLOW_PRIVATE_NETWORKS", raising=False)
    with FakeServer() as server:
        template = armed(links=[f"{server.url}/admin"])
        report = readiness.check(f.MomentFactory(brand=brand, templates=[template]))
        assert server.requests == []  # never asked: SSRF rules hold
    assert codes(report["items"][0]) == ["bad_link"]


def test_a_name_resolving_to_a_private_address_is_never_asked(settings, brand, armed, monkeypatch):
    settings.KAIROS_READINESS_CHECK_LINKS = True
    monkeypatch.delenv("KAIROS_ALLOW_PRIVATE_NETWORKS", raising=False)
    found = readiness.resolve_links(["http://localhost:9/x", "https://no-such-host.invalid/"])
    assert found["http://localhost:9/x"] == "points at a private or reserved address."
    assert (
        found["https://no-such-host.invalid/"] == "does not answer: its host name does not resolve."
    )


def test_the_daily_cap_must_leave_room_for_the_remaining_fires(brand, channel, armed):
    channel.daily_post_cap = 3
    channel.save()
    template = armed(max_fires=2)
    moment = f.MomentFactory(brand=brand, templates=[template])
    assert readiness.check(moment)["ok"]
    # Two posts made in the last 24 hours: one left, fewer than the two fires.
    for hours in (2, 20):
        f.PublicationFactory(
            content_item=f.ContentItemFactory(brand=brand, workspace=brand.workspace),
            channel=channel,
            status=PublicationStatus.PUBLISHED,
            published_at=timezone.now() - timedelta(hours=hours),
        )
    # One a day ago does not count.
    f.PublicationFactory(
        content_item=f.ContentItemFactory(brand=brand, workspace=brand.workspace),
        channel=channel,
        status=PublicationStatus.PUBLISHED,
        published_at=timezone.now() - timedelta(hours=25),
    )
    report = readiness.check(moment)
    item = report["items"][0]
    assert codes(item) == ["daily_cap"]
    assert "has 1 left" in item["reasons"][0]["message"]
    assert (report["channels"][0]["daily_cap"], report["channels"][0]["daily_left"]) == (3, 1)


class Capped(SandboxNetwork):
    """The sandbox with a network-wide daily cap and renewable credentials."""

    key = "capped"
    display_name = "Capped"
    capabilities = SandboxNetwork.capabilities.replace(max_posts_per_day=1)

    def refresh_credentials(self, channel):
        if channel.secrets.get("token") == "revoked":
            raise CredentialsExpired("The network refused to renew the token: reconnect.")
        return {"token": "renewed-" + channel.secrets.get("token", "")}


class CappedPlugin:
    @hookimpl
    def register_networks(self):
        return [Capped()]


def test_network_cap_and_credentials_renewed(plugins_with, brand, armed):  # noqa: F811
    plugins_with(("capped", CappedPlugin()))
    assert isinstance(Capped.capabilities, Capabilities)
    ok = f.ChannelFactory(brand=brand, workspace=brand.workspace, network="capped")
    revoked = f.ChannelFactory(
        brand=brand, workspace=brand.workspace, network="capped", secrets={"token": "revoked"}
    )
    template = armed(channels=[ok, revoked], max_fires=2)
    report = readiness.check(f.MomentFactory(brand=brand, templates=[template]))
    by = items_by(report)
    assert codes(by[(template.pk, ok.pk)]) == ["daily_cap"]  # one a day, two fires
    assert "credentials" in codes(by[(template.pk, revoked.pk)])
    assert "refused to renew" in by[(template.pk, revoked.pk)]["reasons"][0]["message"]
    assert Channel.objects.get(pk=ok.pk).secrets == {"token": "renewed-s3cret-token"}
    assert Channel.objects.get(pk=revoked.pk).secrets == {"token": "revoked"}
    refreshed = {c["channel"]: c["credentials_refreshed"] for c in report["channels"]}
    assert refreshed == {ok.pk: True, revoked.pk: False}


def test_capabilities_refuse_a_negative_daily_cap():
    with pytest.raises(ValueError):
        Capabilities(max_posts_per_day=-1)
    with pytest.raises(TypeError):
        Capabilities(max_posts_per_day="5")
