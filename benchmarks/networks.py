"""Real networks: fire → delivered on Mastodon, Bluesky, Matrix and an email list at once, and
the bytes and calls each network costs per post.

The servers run on 127.0.0.1 exactly as in the tests: Synapse, an @atproto/pds, aiosmtpd, and
mastodon-mock for Mastodon (a contract server: a mock of Mastodon's API, so its latency is not
Mastodon's). Each fire goes through Kairos as a marketer's does - an approved reactive template
on the four channels, ``fire_template`` - and is delivered by one worker in this process
(``runner.drain``, what a django-q2 worker runs), so the figure is Kairos's own path: claim,
render, plugin, network round trips, recording. Fire → delivered is each publication's
``published_at`` minus the fire's ``fired_at``, p50/p99 per network over the fires.

Bytes and calls are counted on the wire: HTTP request and response sizes (start line, headers,
body) through event hooks on each plugin's own client, and for email the messages aiosmtpd
received. A network whose server cannot be installed here is reported as skipped, with why.

``python -m benchmarks networks [--quick]`` runs it (30 fires; 5 with ``--quick``).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import uuid
from pathlib import Path
from typing import Any

from benchmarks.stats import percentile

FIRES = 30
SUBSCRIBERS = 20


class Wire:
    """Counts requests and bytes through httpx event hooks on one client."""

    def __init__(self) -> None:
        self.calls = 0
        self.sent = 0
        self.received = 0

    def on_request(self, request) -> None:
        self.calls += 1
        head = f"{request.method} {request.url.raw_path.decode()} HTTP/1.1\r\n"
        headers = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
        self.sent += len(head) + len(headers) + 2 + len(request.content or b"")

    def on_response(self, response) -> None:
        response.read()
        headers = "".join(f"{k}: {v}\r\n" for k, v in response.headers.items())
        self.received += len("HTTP/1.1 200 OK\r\n") + len(headers) + 2 + len(response.content)

    def attach(self, client) -> None:
        client.event_hooks["request"].append(self.on_request)
        client.event_hooks["response"].append(self.on_response)

    def reset(self) -> None:
        self.calls = self.sent = self.received = 0


def _servers(stack: contextlib.ExitStack) -> dict[str, Any]:
    """Start what can start; ``{"skipped": {network: reason}}`` for the rest."""
    import pytest

    from tests.plugins.bluesky_server import BlueskyPds, pds_modules_or_skip
    from tests.plugins.mastodon_server import MastodonMock, mastodon_mock_python_or_skip
    from tests.plugins.matrix_server import Synapse, synapse_python_or_skip
    from tests.plugins.smtp_server import SmtpServer

    servers: dict[str, Any] = {"skipped": {}}
    starters = {
        "matrix": lambda: Synapse(synapse_python_or_skip()),
        "mastodon": lambda: MastodonMock(mastodon_mock_python_or_skip()),
        "bluesky": lambda: BlueskyPds(pds_modules_or_skip()),
        "email": lambda: SmtpServer(),
    }
    for name, start in starters.items():
        try:
            servers[name] = stack.enter_context(start())
        except pytest.skip.Exception as exc:
            servers["skipped"][name] = str(exc)
    return servers


def _channels(brand, servers: dict[str, Any]) -> tuple[list, dict[str, Any]]:
    """One channel per started network, and what the benchmark needs to look at each."""
    from calendar_app.audiences.models import AudienceList, Subscriber
    from calendar_app.models import Channel
    from tests.plugins.test_bluesky import Account
    from tests.plugins.test_matrix import Room

    def make(network: str, handle: str, settings: dict, secrets: dict) -> Channel:
        return Channel.objects.create(
            workspace=brand.workspace,
            brand=brand,
            network=network,
            handle=handle,
            settings=settings,
            secrets=secrets,
        )

    made, context = [], {}
    if "matrix" in servers:
        room = Room(servers["matrix"])
        context["room"] = room
        made.append(
            make(
                "matrix",
                room.bot.user_id,
                {"homeserver": room.server.base_url, "room": room.id},
                {"access_token": room.bot.token},
            )
        )
    if "mastodon" in servers:
        mock = servers["mastodon"]
        made.append(
            make(
                "mastodon",
                "@testuser",
                {"instance": mock.base_url},
                {"access_token": mock.token},
            )
        )
    if "bluesky" in servers:
        account = Account(servers["bluesky"])
        made.append(
            make(
                "bluesky",
                account.handle,
                {"service": account.pds.url, "handle": account.handle, "link_cards": False},
                {"app_password": account.app_password},
            )
        )
    if "email" in servers:
        audience = AudienceList.objects.create(workspace=brand.workspace, brand=brand, name="Fans")
        Subscriber.objects.bulk_create(
            Subscriber(
                workspace=brand.workspace,
                audience=audience,
                email=f"fan{n}@example.org",
                consent_at=brand.created_at,
                consent_source="benchmark",
            )
            for n in range(SUBSCRIBERS)
        )
        made.append(
            make(
                "email",
                "news@brand.example",
                {
                    "audience": audience.pk,
                    "from_address": "news@brand.example",
                    "smtp_host": "127.0.0.1",
                    "smtp_port": servers["email"].port,
                    "security": "none",
                    "rate_per_second": 0,
                },
                {},
            )
        )
    return made, context


def run(*, quick: bool = False, scratch: Path) -> dict[str, Any]:
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.auth import get_user_model

    from calendar_app.delivery import runner
    from calendar_app.models import Brand, Membership, ReactiveTemplate, Role, Workspace
    from calendar_app.plugins_runtime import get_plugins, reset_plugins
    from calendar_app.reactive import approve_template, fire_template
    from calendar_app.workflow import Actor

    fires = 5 if quick else FIRES
    os.environ["KAIROS_ALLOW_PRIVATE_NETWORKS"] = "matrix,mastodon,bluesky,email"
    settings.KAIROS_TRACKING_BASE_URL = "https://kairos.example"
    reset_plugins()
    with contextlib.ExitStack() as stack:
        servers = _servers(stack)
        workspace = Workspace.objects.create(name="Bench networks", slug="bench-networks")
        brand = Brand.objects.create(workspace=workspace, name="Crunch", slug="crunch")
        user = get_user_model().objects.create_user("bench-networks")
        Membership.objects.create(workspace=workspace, user=user, role=Role.ADMIN)
        approver = Actor.for_user(user, workspace)
        targets, _ = _channels(brand, servers)
        template = ReactiveTemplate.objects.create(
            workspace=workspace,
            brand=brand,
            name="Blackout",
            body="Lights out! {{ line }}",
            cooldown=timedelta(0),
            max_fires=fires + 1,
        )
        template.channels.set(targets)
        template = approve_template(template, approver)

        plugins = get_plugins()
        wires = {}
        for channel in targets:
            network = plugins.network(channel.network)
            if hasattr(network, "_http"):
                wires[channel.network] = Wire()
                wires[channel.network].attach(network._http)

        latencies: dict[str, list[float]] = {c.network: [] for c in targets}
        warm = fire_template(template, approver, {"line": "warm-up"})
        runner.drain()
        for wire in wires.values():
            wire.reset()
        mail_before = len(servers["email"].messages) if "email" in servers else 0
        mail_bytes_before = (
            sum(len(m.data) for m in servers["email"].messages) if "email" in servers else 0
        )
        failures: dict[str, int] = {}
        for n in range(fires):
            fire = fire_template(template, approver, {"line": f"#{n} {uuid.uuid4().hex[:6]}"})
            while runner.drain():
                pass
            fire.refresh_from_db()
            for publication in fire.content_item.publications.select_related("channel"):
                network = publication.channel.network
                if publication.published_at is None:
                    failures[network] = failures.get(network, 0) + 1
                    continue
                latencies[network].append(
                    (publication.published_at - fire.fired_at).total_seconds() * 1000
                )
        del warm

        figures: dict[str, Any] = {"fires": fires, "skipped": servers["skipped"], "networks": {}}
        for network, values in latencies.items():
            entry: dict[str, Any] = {"delivered": len(values), "failed": failures.get(network, 0)}
            if values:
                entry["fire_to_delivered_ms"] = {
                    "p50": round(percentile(values, 50), 1),
                    "p99": round(percentile(values, 99), 1),
                    "mean": round(statistics.fmean(values), 1),
                }
            if network in wires:
                wire = wires[network]
                entry["http_calls_per_post"] = round(wire.calls / fires, 2)
                entry["bytes_sent_per_post"] = round(wire.sent / fires)
                entry["bytes_received_per_post"] = round(wire.received / fires)
            if network == "email":
                messages = servers["email"].messages[mail_before:]
                size = sum(len(m.data) for m in servers["email"].messages) - mail_bytes_before
                entry["messages_per_fire"] = round(len(messages) / fires, 2)
                entry["bytes_per_message"] = round(size / max(len(messages), 1))
            figures["networks"][network] = entry
        figures["note"] = (
            "mastodon is mastodon-mock (a contract server); one in-process worker delivers the "
            "four publications of a fire one after the other"
        )
    reset_plugins()
    return figures
