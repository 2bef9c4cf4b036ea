"""Email newsletter figures: a 10,000-recipient send to a real SMTP server on 127.0.0.1.

The send goes through the real delivery path (claim, the plugin pipeline, the email network, the
database recipient ledger with its one commit per message) to aiosmtpd running in a child
process (``python -m tests.plugins.smtp_server``), so the server's work is not counted in this
process's time or memory. The throttle is off (``rate_per_second=0``): the figure is what Kairos
itself can sustain; a real channel is throttled to its provider's rate.

Two sends of the same size: the first measures throughput and the process's peak RSS, the second
runs under ``tracemalloc`` for the peak of Python allocations during the send (tracemalloc slows
it down, so its time is not reported). Also printed: the bytes of one message as the server got
it, and the SMTP commands per message (MAIL, RCPT, DATA, plus EHLO and QUIT once per
connection, amortised).

``python -m benchmarks email [--quick]`` runs it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.stats import self_peak_rss_mib

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(scratch: Path) -> tuple[subprocess.Popen, int, Path]:
    port = _free_port()
    counts = scratch / f"smtp-{port}.log"
    counts.write_text("")
    command = [sys.executable, "-m", "tests.plugins.smtp_server", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--count-file", str(counts)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc, port, counts


def _publication(recipients: int, port: int, label: str):
    """A workspace, a list of ``recipients`` subscribers, an email channel and a due publication."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from calendar_app import workflow
    from calendar_app.audiences.models import AudienceList, Subscriber
    from calendar_app.models import Brand, Channel, ContentItem, Membership, Role, Workspace
    from calendar_app.workflow import Actor

    workspace = Workspace.objects.create(name=f"Bench {label}", slug=f"bench-email-{label}")
    brand = Brand.objects.create(workspace=workspace, name="Bench brand", slug="bench")
    user = get_user_model().objects.create_user(f"bench-email-{label}")
    Membership.objects.create(workspace=workspace, user=user, role=Role.ADMIN)
    audience = AudienceList.objects.create(workspace=workspace, brand=brand, name="All")
    consent = datetime(2026, 1, 1, tzinfo=UTC)
    Subscriber.objects.bulk_create(
        [
            Subscriber(
                workspace=workspace,
                audience=audience,
                email=f"reader{n:06d}@example.org",
                name=f"Reader {n}",
                consent_at=consent,
                consent_source="benchmark",
            )
            for n in range(recipients)
        ],
        batch_size=2000,
    )
    channel = Channel.objects.create(
        workspace=workspace,
        brand=brand,
        network="email",
        handle="news@brand.example",
        settings={
            "audience": audience.pk,
            "from_address": "news@brand.example",
            "from_name": "Bench brand",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "security": "none",
            "rate_per_second": 0,
        },
    )
    item = ContentItem.objects.create(
        workspace=workspace,
        brand=brand,
        title="Bench newsletter",
        body="# Spring news\n\nEverything **new** this season, and a few words more to make "
        "the message the size of a short newsletter.\n\n- one\n- two\n- three",
        links=["https://brand.example/spring"],
    )
    item.channels.set([channel])
    actor = Actor.for_user(user, workspace)
    workflow.submit(item, actor)
    workflow.approve(item, actor)
    workflow.schedule(item, actor, when=timezone.now() - timedelta(seconds=1))
    return item.publications.get()


def _send(publication_id: int) -> float:
    from calendar_app.delivery.runner import deliver_ids

    started = time.monotonic()
    outcome = deliver_ids([publication_id])
    elapsed = time.monotonic() - started
    assert outcome.get("published") == 1, outcome
    return elapsed


def run(*, quick: bool = False, scratch: Path) -> dict:
    os.environ["KAIROS_ALLOW_PRIVATE_NETWORKS"] = "email"
    from django.conf import settings

    settings.KAIROS_TRACKING_BASE_URL = "https://kairos.example"
    recipients = 500 if quick else 10_000
    server, port, counts = _start_server(scratch)
    try:
        rss_before = self_peak_rss_mib()
        first = _publication(recipients, port, "a")
        seconds = _send(first.pk)
        rss_after = self_peak_rss_mib()
        lines = counts.read_text().splitlines()
        sizes = [int(line.split("\t")[1]) for line in lines if "\t" in line]
        sessions = sum(1 for line in lines if line == "EHLO")

        second = _publication(recipients, port, "b")
        tracemalloc.start()
        _send(second.pk)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        server.terminate()
        server.wait(timeout=10)
    messages = len(sizes)
    per_connection_commands = 2  # EHLO and QUIT (plus STARTTLS, EHLO, AUTH over TLS with AUTH)
    return {
        "recipients": recipients,
        "messages_received": messages,
        "seconds": round(seconds, 2),
        "recipients_per_second": round(recipients / seconds, 1),
        "peak_rss_mib": round(rss_after, 1),
        "peak_rss_growth_mib": round(rss_after - rss_before, 1),
        "tracemalloc_peak_mib": round(peak / 2**20, 1),
        "bytes_per_message": round(sum(sizes) / messages) if messages else None,
        "smtp_sessions": sessions,
        "smtp_commands_per_message": round(
            (3 * messages + per_connection_commands * sessions) / messages, 2
        )
        if messages
        else None,
        "database_commits_per_message": 1,
    }
