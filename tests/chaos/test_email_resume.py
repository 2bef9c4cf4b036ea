"""A 10,000-recipient newsletter whose sending worker is SIGKILLed half-way, then resumed.

The worker is a real process (``manage.py shell`` running the worker's own entry point,
``calendar_app.delivery.runner.deliver_ids``) sending to aiosmtpd on 127.0.0.1, which runs in
this test process and so outlives the kill. After the kill the lease lapses, recovery hands the
publication back, and the next attempt resumes from the recipient ledger.

The promise checked: every subscriber received the newsletter exactly once, except the
recipients the ledger records *in doubt* (at most one per kill: the message on the wire), who
received it at most once.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from calendar_app import delivery, workflow
from calendar_app.audiences.models import AudienceList, RecipientState, SendRecipient, Subscriber
from calendar_app.models import Publication, PublicationStatus, Role
from calendar_app.processes import ProcessGroup
from calendar_app.workflow import Actor
from tests import factories as f
from tests.plugins.smtp_server import SmtpServer

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]

RECIPIENTS = 10_000


def wait(predicate, timeout: float, what: str, procs: ProcessGroup):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}\n{procs.logs()}")


def test_killed_send_resumes_nobody_twice_nobody_skipped(chaos_env, tmp_path):
    workspace = f.WorkspaceFactory()
    brand = f.BrandFactory(workspace=workspace)
    audience = AudienceList.objects.create(workspace=workspace, brand=brand, name="All")
    consent = datetime(2026, 1, 1, tzinfo=UTC)
    Subscriber.objects.bulk_create(
        [
            Subscriber(
                workspace=workspace,
                audience=audience,
                email=f"reader{n:05d}@example.org",
                consent_at=consent,
                consent_source="test",
            )
            for n in range(RECIPIENTS)
        ],
        batch_size=2000,
    )
    with SmtpServer() as smtp:
        channel = f.ChannelFactory(
            brand=brand,
            workspace=workspace,
            network="email",
            settings={
                "audience": audience.pk,
                "from_address": "news@brand.example",
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.port,
                "security": "none",
                "rate_per_second": 0,
                "messages_per_connection": 0,
            },
        )
        item = f.ContentItemFactory(
            brand=brand, workspace=workspace, channels=[channel], body="Big news\n\nRead on."
        )
        admin = Actor.for_user(
            f.MembershipFactory(workspace=workspace, role=Role.ADMIN).user, workspace
        )
        workflow.submit(item, admin)
        workflow.approve(item, admin)
        workflow.schedule(item, admin, when=timezone.now() - timedelta(seconds=1))
        publication = item.publications.get()

        env = {
            **chaos_env,
            "KAIROS_ALLOW_PRIVATE_NETWORKS": "email",
            "KAIROS_TRACKING_BASE_URL": "https://kairos.example",
            "KAIROS_CLAIM_TTL": "2",
            # The kill must land mid-send: an attempt that stopped at the send budget (40 s,
            # 3,931 messages on a machine four times slower) would return before half.
            "KAIROS_EMAIL_SEND_BUDGET": "900",
        }
        procs = ProcessGroup(env=env, log_dir=tmp_path)
        try:
            procs.start(
                "sender",
                "shell",
                "-c",
                "from calendar_app.delivery.runner import deliver_ids; "
                f"print(deliver_ids([{publication.pk}]))",
            )
            wait(
                lambda: len(smtp.messages) >= RECIPIENTS // 2,
                timeout=600,
                what="half of the messages",
                procs=procs,
            )
            procs.kill("sender")  # SIGKILL: nothing gets to clean up
            at_kill = len(smtp.messages)
            time.sleep(0.5)
            assert len(smtp.messages) == at_kill, "the killed worker kept sending"
            assert at_kill < RECIPIENTS

            # The lease lapses; recovery hands the publication back; the next attempt resumes.
            later = timezone.now() + timedelta(seconds=10)
            assert delivery.recover_lapsed_claims(now=later) == 1
            Publication.objects.filter(pk=publication.pk).update(next_attempt_at=timezone.now())
            procs.start(
                "resumer",
                "shell",
                "-c",
                "from calendar_app.delivery.runner import deliver_ids; "
                f"print(deliver_ids([{publication.pk}]))",
            )
            wait(
                lambda: (
                    Publication.objects.get(pk=publication.pk).status == PublicationStatus.PUBLISHED
                ),
                timeout=600,
                what="the resumed send to finish",
                procs=procs,
            )
        finally:
            procs.stop_all()

        received = Counter(m.rcpt_tos[0] for m in smtp.messages)
    rows = SendRecipient.objects.filter(send__publication=publication)
    in_doubt = set(rows.filter(state=RecipientState.IN_DOUBT).values_list("email", flat=True))
    print(
        f"killed after {at_kill} messages; {len(received)} addresses received; "
        f"in doubt: {sorted(in_doubt)}"
    )
    assert len(in_doubt) <= 1, "one kill leaves at most the message on the wire in doubt"
    assert rows.filter(state=RecipientState.SENT).count() == RECIPIENTS - len(in_doubt)
    everyone = set(Subscriber.objects.filter(audience=audience).values_list("email", flat=True))
    assert max(received.values()) == 1, "somebody got the newsletter twice"
    missing = everyone - set(received)
    assert missing <= in_doubt, f"skipped: {sorted(missing - in_doubt)[:5]}"
    assert set(received) <= everyone
