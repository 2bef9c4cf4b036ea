"""One fire of a reactive template reaches Mastodon, Bluesky, Matrix and an email list at once.

Every server is real and on 127.0.0.1 - Synapse, an @atproto/pds, aiosmtpd - except Mastodon,
whose server is mastodon-mock (a CONTRACT server: a mock of Mastodon's REST API, the closest
thing that installs here). The fire goes through Kairos as a marketer's would: an approved
template with an experiment, ``fire_template``, the dispatcher and the workers (django-q2 in
sync mode runs them inline). Then people engage on each network, Kairos collects the metrics and
the experiment's results count them.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from calendar_app.delivery.dispatcher import dispatch_due
from calendar_app.experiments import aggregate_counts
from calendar_app.metrics import collect_recent
from calendar_app.models import MetricSnapshot, PublicationStatus, Role
from calendar_app.plugins_runtime import reset_plugins
from calendar_app.reactive import approve_template, fire_template
from tests import factories as f
from tests.audiences.conftest import AudienceListFactory, SubscriberFactory
from tests.plugins.bluesky_server import (  # noqa: F401  (bluesky_pds is a fixture)
    bluesky_pds_fixture,
)
from tests.plugins.mastodon_server import (  # noqa: F401  (mastodon is a fixture)
    mastodon_fixture,
)
from tests.plugins.matrix_server import Synapse, synapse_python_or_skip
from tests.plugins.smtp_server import SmtpServer
from tests.plugins.test_bluesky import Account
from tests.plugins.test_matrix import Room

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SUBSCRIBERS = 6


@pytest.fixture
def networks_on_loopback(monkeypatch, settings):
    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "matrix,mastodon,bluesky,email")
    settings.KAIROS_TRACKING_BASE_URL = "https://kairos.example"
    reset_plugins()
    yield
    reset_plugins()


@pytest.fixture(scope="module")
def synapse():
    with Synapse(synapse_python_or_skip()) as server:
        yield server


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


def channels(brand, *, room: Room, mastodon, account: Account, smtp, audience) -> list:
    def make(network, handle, settings, secrets):
        return f.ChannelFactory(
            brand=brand,
            workspace=brand.workspace,
            network=network,
            handle=handle,
            settings=settings,
            secrets=secrets,
        )

    return [
        make(
            "matrix",
            room.bot.user_id,
            {"homeserver": room.server.base_url, "room": room.id},
            {"access_token": room.bot.token},
        ),
        make(
            "mastodon",
            "@testuser",
            {"instance": mastodon.base_url},
            {"access_token": mastodon.token},
        ),
        make(
            "bluesky",
            account.handle,
            {"service": account.pds.url, "handle": account.handle, "link_cards": False},
            {"app_password": account.app_password},
        ),
        make(
            "email",
            "news@brand.example",
            {
                "audience": audience.pk,
                "from_address": "news@brand.example",
                "from_name": brand.name,
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.port,
                "security": "none",
                "rate_per_second": 0,
            },
            {},
        ),
    ]


def test_one_fire_reaches_all_four_networks_once_and_their_engagement_reaches_the_results(
    networks_on_loopback, synapse, mastodon, bluesky_pds, smtp, brand, actor
) -> None:
    room = Room(synapse)
    account = Account(bluesky_pds)
    audience = AudienceListFactory(brand=brand, workspace=brand.workspace)
    for _ in range(SUBSCRIBERS):
        SubscriberFactory(audience=audience)
    targets = channels(
        brand, room=room, mastodon=mastodon, account=account, smtp=smtp, audience=audience
    )
    experiment = f.ExperimentFactory(brand=brand, workspace=brand.workspace, status="running")
    f.VariantFactory(
        experiment=experiment,
        key="control",
        is_control=True,
        cta_text="Watch live",
        cta_url="https://brand.example/live",
    )
    f.VariantFactory(
        experiment=experiment,
        key="bold",
        cta_text="Do not miss it",
        cta_url="https://brand.example/now",
    )
    tag = uuid.uuid4().hex[:8]
    template = f.ReactiveTemplateFactory(
        brand=brand,
        workspace=brand.workspace,
        body=f"Lights out in the stadium! {{{{ line }}}} {tag}",
        channels=targets,
        experiment=experiment,
    )
    approver = actor(Role.APPROVER)
    template = approve_template(template, approver)

    fire = fire_template(template, approver, {"line": "Crunch in the dark."})
    dispatch_due()  # the wake-up the fire sends on commit (tests run inside a transaction)
    publications = {p.channel.network: p for p in fire.content_item.publications.all()}
    assert set(publications) == {"matrix", "mastodon", "bluesky", "email"}
    for network, publication in publications.items():
        publication.refresh_from_db()
        assert publication.status == PublicationStatus.PUBLISHED, (
            network,
            publication.last_error_reason,
        )

    # Each server received exactly one post (the email list: one message per subscriber).
    in_room = [m for m in room.person.messages(room.id) if tag in m["content"].get("body", "")]
    assert len(in_room) == 1
    fan = httpx.Client(base_url=mastodon.base_url, headers=mastodon.headers(mastodon.fan_token))
    me = httpx.get(
        f"{mastodon.base_url}/api/v1/accounts/verify_credentials", headers=mastodon.headers()
    ).json()
    statuses = httpx.get(
        f"{mastodon.base_url}/api/v1/accounts/{me['id']}/statuses",
        headers=mastodon.headers(),
        params={"limit": 40},
    ).json()
    assert len([s for s in statuses if tag in s["content"]]) == 1
    assert len([p for p in account.posts() if tag in p["value"]["text"]]) == 1
    received = [m for m in smtp.messages if tag in m.message.get_body(("plain",)).get_content()]
    assert len(received) == SUBSCRIBERS
    assert len({m.message["To"] for m in received}) == SUBSCRIBERS

    # People engage: a reaction in the room, a favourite on Mastodon, a like on Bluesky, a click
    # on the newsletter's call to action.
    room.person.react(room.id, publications["matrix"].external_id, "🔥")
    fan.post(
        f"/api/v1/statuses/{publications['mastodon'].external_id}/favourite"
    ).raise_for_status()
    liker = Account(bluesky_pds)
    post_uri = publications["bluesky"].external_id
    cid = account.record(post_uri)["cid"]
    liker.write("app.bsky.feed.like", {"subject": {"uri": post_uri, "cid": cid}})
    plain = received[0].message.get_body(("plain",)).get_content()
    tracked = next(word for word in plain.split() if word.startswith("https://kairos.example/r/"))
    reader = Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
    assert reader.get(urlsplit(tracked).path).status_code == 302

    assert collect_recent(now=timezone.now() + timedelta(minutes=1)) == 4
    snapshots = {
        s.publication.channel.network: s
        for s in MetricSnapshot.objects.select_related("publication__channel")
    }
    assert snapshots["matrix"].reactions == 1
    assert snapshots["mastodon"].reactions == 1
    assert snapshots["bluesky"].reactions == 1

    counts = aggregate_counts(experiment)
    arms = counts.arms
    assert sum(arm.publications for arm in arms.values()) == 3  # one per social channel
    assert sum(arm.recipients for arm in arms.values()) == SUBSCRIBERS
    assert sum(arm.clicks for arm in arms.values()) >= 1
    assert set(counts.strata) >= {"matrix", "mastodon", "bluesky", "email"}
