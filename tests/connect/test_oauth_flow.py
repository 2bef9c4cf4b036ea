"""The generic OAuth 2.0 connection, end to end against a real Authlib authorisation server on
127.0.0.1: start, sign in, callback, the account picker, the refresh schedule - and every way it
can go wrong, each leaving no half-made channel."""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from calendar_app.connect.models import ChannelToken, FlowStatus, OAuthFlow
from calendar_app.connect.refresh import RefreshOutcome, refresh_due_tokens
from calendar_app.delivery.posts import channel_context
from calendar_app.models import (
    Channel,
    ChannelStatus,
    Publication,
    Role,
    WebhookDelivery,
    WebhookSubscription,
)
from calendar_app.outbound.sender import new_secret_value
from calendar_app.plugins_runtime import reset_plugins
from publishers import Post
from tests import factories as f
from tests.connect.oauth_network import KEY

pytestmark = [pytest.mark.e2e, pytest.mark.django_db, pytest.mark.usefixtures("demo_network")]


def start(client_for, workspace, brand):
    return client_for(Role.ADMIN).post(
        reverse("api:connection-list", kwargs={"workspace_slug": workspace.slug}),
        {"brand": brand.pk, "network": KEY},
        format="json",
    )


def callback(**params):
    return Client().get(reverse("connect-callback"), params, HTTP_ACCEPT="application/json")


def connect(server, client_for, workspace, brand):
    url = start(client_for, workspace, brand).json()["authorize_url"]
    answer = callback(**server.sign_in(url))
    assert answer.status_code == 200, answer.content
    return Channel.objects.get(pk=answer.json()["channel"])


def test_connect_to_a_usable_channel_with_pkce(server, workspace, brand, client_for) -> None:
    started = time.perf_counter()
    response = start(client_for, workspace, brand)
    assert response.status_code == 201, response.content
    query = parse_qs(urlsplit(response.json()["authorize_url"]).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert "code_verifier" not in response.json()["authorize_url"]
    answer = callback(**server.sign_in(response.json()["authorize_url"]))
    assert answer.status_code == 200, answer.content
    channel = Channel.objects.get(pk=answer.json()["channel"])
    result = server_plugin_publish(channel)
    elapsed = time.perf_counter() - started
    assert result.external_id == "1" and server.posts == [{"user": "alice", "text": "Hello"}]
    print(f"\nconnect -> usable channel on loopback: {elapsed * 1000:.0f} ms")
    assert channel.handle == "@alice" and channel.display_name == "Alice Example"
    assert channel.status == ChannelStatus.CONNECTED
    assert set(channel.secrets) == {"access_token", "refresh_token"}
    token = ChannelToken.objects.get(channel=channel)
    assert token.expires_at > timezone.now() + timedelta(minutes=100)


def server_plugin_publish(channel):
    from calendar_app.plugins_runtime import get_plugins

    return get_plugins().network(KEY).publish(Post(body="Hello"), channel_context(channel), "k")


def test_the_verifier_is_required_by_the_server(server, workspace, brand, client_for) -> None:
    """Without the verifier kept server-side the code is worthless: PKCE holds end to end."""
    flow_id = start(client_for, workspace, brand).json()["id"]
    flow = OAuthFlow.objects.get(pk=flow_id)
    url = (
        f"{server.base_url}/authorize?response_type=code&client_id={server.client.client_id}"
        f"&redirect_uri=https%3A%2F%2Fkairos.example%2Fconnect%2Fcallback&scope=post+read"
        f"&state={flow.state}&code_challenge={'A' * 43}&code_challenge_method=S256"
    )
    answer = callback(**server.sign_in(url))
    assert answer.status_code == 400 and answer.json()["code"] == "token_refused"
    assert not Channel.objects.exists()


def test_refused_consent_leaves_nothing(server, workspace, brand, client_for) -> None:
    url = start(client_for, workspace, brand).json()["authorize_url"]
    answer = callback(**server.sign_in(url, confirm="no"))
    assert answer.status_code == 400 and answer.json()["code"] == "consent_refused"
    assert "did not allow" in answer.json()["detail"]
    assert not Channel.objects.exists() and not ChannelToken.objects.exists()
    assert OAuthFlow.objects.get().status == FlowStatus.FAILED


def test_a_code_used_twice_and_a_replayed_state_are_refused(
    server, workspace, brand, client_for
) -> None:
    url = start(client_for, workspace, brand).json()["authorize_url"]
    params = server.sign_in(url)
    assert callback(**params).status_code == 200
    replay = callback(**params)
    assert replay.status_code == 400 and replay.json()["code"] == "state_used"
    # The same code under a fresh flow's state: the server refuses a code already spent.
    second = OAuthFlow.objects.get(pk=start(client_for, workspace, brand).json()["id"])
    reused = callback(state=second.state, code=params["code"])
    assert reused.status_code == 400 and reused.json()["code"] == "token_refused"
    assert Channel.objects.count() == 1


def test_a_foreign_or_missing_state_is_refused(server, workspace, brand, client_for) -> None:
    url = start(client_for, workspace, brand).json()["authorize_url"]
    params = server.sign_in(url)
    for state in ("", "someone-elses-state", params["state"][:-1] + "x"):
        answer = callback(state=state, code=params["code"])
        assert answer.status_code == 400 and answer.json()["code"] == "unknown_state"
    html = Client().get(reverse("connect-callback"), {"code": params["code"]})
    assert html.status_code == 400 and b"not known here" in html.content
    assert not Channel.objects.exists()


def test_an_expired_flow_is_refused(server, workspace, brand, client_for) -> None:
    url = start(client_for, workspace, brand).json()["authorize_url"]
    params = server.sign_in(url)
    OAuthFlow.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    answer = callback(**params)
    assert answer.status_code == 400 and answer.json()["code"] == "flow_expired"
    assert server.token_requests == 0, "an expired flow never spends the code"
    assert not Channel.objects.exists()


@pytest.mark.parametrize(
    ("mode", "code"),
    [
        ("malformed", "token_malformed"),
        ("no_access_token", "token_malformed"),
        ("unavailable", "token_malformed"),
    ],
)
def test_a_broken_token_answer_leaves_nothing(
    server, workspace, brand, client_for, mode, code
) -> None:
    url = start(client_for, workspace, brand).json()["authorize_url"]
    params = server.sign_in(url)
    server.token_mode = mode
    answer = callback(**params)
    assert answer.status_code == 400 and answer.json()["code"] == code, answer.content
    assert not Channel.objects.exists() and not ChannelToken.objects.exists()
    assert OAuthFlow.objects.get().reason.startswith(code)


def test_an_error_answer_from_the_network_is_shown_cleanly(
    server, workspace, brand, client_for
) -> None:
    flow = OAuthFlow.objects.get(pk=start(client_for, workspace, brand).json()["id"])
    answer = callback(state=flow.state, error="temporarily_unavailable", error_description="later")
    assert answer.status_code == 400 and answer.json()["code"] == "oauth_error"
    assert "temporarily_unavailable" in answer.json()["detail"]
    assert not Channel.objects.exists()


def test_reconnecting_the_same_account_updates_its_channel(
    server, workspace, brand, client_for
) -> None:
    first = connect(server, client_for, workspace, brand)
    second = connect(server, client_for, workspace, brand)
    assert first.pk == second.pk and Channel.objects.count() == 1
    assert first.secrets["access_token"] != second.secrets["access_token"]


# -- the account picker -------------------------------------------------------------------


def pages(server):
    server.accounts["alice"].managed = [
        {"id": "p1", "name": "Acme Shoes", "access_token": "page-token-1"},
        {"id": "p2", "name": "Acme Outlet", "access_token": "page-token-2"},
    ]


def test_a_login_with_several_accounts_asks_which_one(server, workspace, brand, client_for) -> None:
    pages(server)
    started = start(client_for, workspace, brand).json()
    answer = callback(**server.sign_in(started["authorize_url"]))
    assert answer.status_code == 200 and answer.json()["status"] == "choosing"
    assert [c["id"] for c in answer.json()["choices"]] == ["p1", "p2"]
    assert "page-token" not in answer.content.decode()
    assert not Channel.objects.exists()
    api = client_for(Role.ADMIN)
    detail_url = reverse(
        "api:connection-detail", kwargs={"workspace_slug": workspace.slug, "pk": started["id"]}
    )
    detail = api.get(detail_url).json()
    assert detail["status"] == "choosing" and detail["choices"][1]["kind"] == "Page"
    assert "page-token" not in str(detail)
    choose_url = reverse(
        "api:connection-choose", kwargs={"workspace_slug": workspace.slug, "pk": started["id"]}
    )
    wrong = api.post(choose_url, {"account": "p9"}, format="json")
    assert wrong.status_code == 400 and "p1, p2" in wrong.json()["fields"]["account"][0]
    picked = api.post(choose_url, {"account": "p2"}, format="json")
    assert picked.status_code == 200, picked.content
    channel = Channel.objects.get()
    assert (channel.handle, channel.settings, dict(channel.secrets)) == (
        "Acme Outlet",
        {"page_id": "p2"},
        {"access_token": "page-token-2"},
    )
    assert ChannelToken.objects.get(channel=channel).expires_at is None, "page tokens last"
    flow = OAuthFlow.objects.get()
    assert "choices" not in flow.secrets, "the other pages' tokens are not kept"
    again = api.post(choose_url, {"account": "p1"}, format="json")
    assert again.status_code == 400 and Channel.objects.count() == 1


def test_the_picker_is_tenant_scoped_and_expires(
    server, workspace, other_workspace, brand, client_for
) -> None:
    pages(server)
    started = start(client_for, workspace, brand).json()
    callback(**server.sign_in(started["authorize_url"]))
    foreign = f.BrandFactory(workspace=other_workspace)
    assert foreign.workspace_id != workspace.pk
    outsider = reverse(
        "api:connection-choose",
        kwargs={"workspace_slug": other_workspace.slug, "pk": started["id"]},
    )
    assert client_for(Role.ADMIN).post(outsider, {"account": "p1"}, format="json").status_code in (
        403,
        404,
    )
    OAuthFlow.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    late = client_for(Role.ADMIN).post(
        reverse(
            "api:connection-choose", kwargs={"workspace_slug": workspace.slug, "pk": started["id"]}
        ),
        {"account": "p1"},
        format="json",
    )
    assert late.status_code == 400 and "10 minutes" in str(late.json())
    assert not Channel.objects.exists()


# -- keeping tokens alive -----------------------------------------------------------------


def make_due(channel) -> None:
    ChannelToken.objects.filter(channel=channel).update(
        expires_at=timezone.now() + timedelta(minutes=5)
    )


def test_a_token_about_to_expire_is_refreshed_and_keeps_working(
    server, workspace, brand, client_for
) -> None:
    channel = connect(server, client_for, workspace, brand)
    old = dict(channel.secrets)
    assert refresh_due_tokens()["per_second"] == 0.0, "nothing is due yet"
    make_due(channel)
    counts = refresh_due_tokens()
    assert counts[RefreshOutcome.REFRESHED] == 1
    channel.refresh_from_db()
    assert channel.secrets["access_token"] != old["access_token"]
    assert channel.secrets["refresh_token"] != old["refresh_token"], "rotated"
    token = ChannelToken.objects.get(channel=channel)
    assert token.expires_at > timezone.now() + timedelta(minutes=100) and token.refreshed_at
    assert server_plugin_publish(channel).external_id == "1"
    assert refresh_due_tokens().get(RefreshOutcome.REFRESHED) is None, "not due any more"


def test_a_refresh_without_a_new_refresh_token_keeps_the_old_one(
    server, workspace, brand, client_for
) -> None:
    channel = connect(server, client_for, workspace, brand)
    old_refresh = channel.secrets["refresh_token"]
    server.rotate_refresh_tokens = False
    make_due(channel)
    assert refresh_due_tokens()[RefreshOutcome.REFRESHED] == 1
    channel.refresh_from_db()
    assert channel.secrets["refresh_token"] == old_refresh
    make_due(channel)
    assert refresh_due_tokens()[RefreshOutcome.REFRESHED] == 1, "and it still works"


@pytest.mark.parametrize("mode", ["unavailable", "malformed", "no_access_token"])
def test_a_network_failing_to_refresh_is_retried_and_changes_nothing(
    server, workspace, brand, client_for, mode
) -> None:
    channel = connect(server, client_for, workspace, brand)
    before = dict(channel.secrets)
    make_due(channel)
    server.token_mode = mode
    assert refresh_due_tokens()[RefreshOutcome.RETRY] == 1
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.CONNECTED and dict(channel.secrets) == before
    token = ChannelToken.objects.get(channel=channel)
    assert token.last_error and token.refreshing_until is None
    server.token_mode = ""
    assert refresh_due_tokens()[RefreshOutcome.REFRESHED] == 1


def test_a_refused_refresh_expires_the_channel_holds_its_posts_and_reconnect_releases(
    server, workspace, brand, client_for, django_capture_on_commit_callbacks
) -> None:
    channel = connect(server, client_for, workspace, brand)
    subscription = WebhookSubscription.objects.create(
        workspace=workspace,
        url="https://hooks.example/kairos",
        event_types=["channel.expired"],
        secret=new_secret_value()[0],
    )
    publication = f.PublicationFactory(channel=channel)
    make_due(channel)
    server.revoke_all()  # the person removed Kairos from their account
    assert refresh_due_tokens()[RefreshOutcome.EXPIRED] == 1
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.EXPIRED
    assert "refused to renew" in channel.status_reason and "reconnect" in channel.status_reason
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert delivery.event.type == "channel.expired"
    assert "refused to renew" in str(delivery.event.payload)
    publication.refresh_from_db()
    assert publication.last_error_code == "channel_expired"
    assert refresh_due_tokens().get(RefreshOutcome.EXPIRED) is None, "expired once"

    with django_capture_on_commit_callbacks(execute=True):
        connect(server, client_for, workspace, brand)
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.CONNECTED
    assert Publication.objects.get(pk=publication.pk).last_error_code == "released_after_hold"


def test_two_runs_at_once_spend_the_refresh_token_once(
    server, workspace, brand, client_for
) -> None:
    from calendar_app.connect.refresh import refresh_channel_token

    channel = connect(server, client_for, workspace, brand)
    make_due(channel)
    token = ChannelToken.objects.get(channel=channel)
    ChannelToken.objects.filter(pk=token.pk).update(
        refreshing_until=timezone.now() + timedelta(seconds=60)
    )
    assert refresh_channel_token(token) == RefreshOutcome.SKIPPED
    assert server.refresh_requests == 0


def test_refresh_throughput(server, workspace, brand) -> None:
    """How many channels one run of the schedule renews per second on loopback."""
    count = 30
    for number in range(count):
        secrets = server.issue("alice")
        channel = f.ChannelFactory(
            brand=brand, workspace=workspace, network=KEY, handle=f"@bulk{number}", secrets=secrets
        )
        ChannelToken.objects.create(workspace=workspace, channel=channel, expires_at=timezone.now())
    counts = refresh_due_tokens()
    assert counts[RefreshOutcome.REFRESHED] == count
    print(f"\nrefresh run: {counts['per_second']:.1f} channels/s on loopback")


def test_a_sign_in_server_that_does_not_resolve_is_a_field_message(
    workspace, brand, client_for, monkeypatch
) -> None:
    monkeypatch.setenv("KAIROS_X_API_URL", "https://api.kairos-test.invalid")
    reset_plugins()  # the installed networks, X among them
    response = client_for(Role.ADMIN).post(
        reverse("api:connection-list", kwargs={"workspace_slug": workspace.slug}),
        {"brand": brand.pk, "network": "x"},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "could not be reached" in response.json()["fields"]["network"][0]
    assert not OAuthFlow.objects.exists()
