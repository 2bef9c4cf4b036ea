"""A newsletter through the whole delivery path: schedule, dispatch, the database ledger, a real
SMTP server on 127.0.0.1, tracked links per variant, the split as exposures, metrics, and the
unsubscribe link of a received message working against Kairos."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from calendar_app import delivery, metrics, workflow
from calendar_app.audiences.ledger import DatabaseLedger
from calendar_app.audiences.models import RecipientState, SendRecipient, Subscriber
from calendar_app.delivery.dispatcher import dispatch_due
from calendar_app.models import Publication, PublicationStatus, RecipientSplit, Role, TrackedLink
from tests import factories as f
from tests.api.conftest import token_client
from tests.audiences.conftest import SubscriberFactory
from tests.plugins.smtp_server import SmtpServer

pytestmark = pytest.mark.django_db
P = PublicationStatus


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def subscribers(audience):
    rows = [SubscriberFactory(audience=audience) for _ in range(24)]
    rows.append(SubscriberFactory(audience=audience, email="bounce-me@example.org"))
    SubscriberFactory(audience=audience, email="gone@example.org", status="unsubscribed")
    return rows


def email_channel(brand, smtp, audience_id):
    return f.ChannelFactory(
        brand=brand,
        workspace=brand.workspace,
        network="email",
        handle=f"news-{audience_id}@brand.example",
        settings={
            "audience": audience_id,
            "from_address": "news@brand.example",
            "from_name": brand.name,
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "security": "none",
            "rate_per_second": 0,
        },
    )


@pytest.fixture
def experiment(brand):
    exp = f.ExperimentFactory(brand=brand, workspace=brand.workspace)
    f.VariantFactory(
        experiment=exp,
        key="control",
        is_control=True,
        weight=1,
        cta_text="Read the news",
        cta_url="https://brand.example/news",
    )
    f.VariantFactory(
        experiment=exp,
        key="bold",
        weight=1,
        cta_text="Get 20% off today",
        cta_url="https://brand.example/offer",
    )
    return exp


def schedule(brand, actor, channel, experiment=None):
    item = f.ContentItemFactory(
        brand=brand,
        workspace=brand.workspace,
        channels=[channel],
        experiment=experiment,
        body="Spring news\n\nEverything new this season.",
    )
    admin = actor(Role.ADMIN)
    workflow.submit(item, admin)
    workflow.approve(item, admin)
    workflow.schedule(item, admin, when=timezone.now() - timedelta(seconds=1))
    return item.publications.get()


def test_newsletter_end_to_end(brand, actor, audience, subscribers, experiment, smtp):
    channel = email_channel(brand, smtp, audience.pk)
    publication = schedule(brand, actor, channel, experiment)
    assert dispatch_due() == 1
    publication.refresh_from_db()
    assert publication.status == P.PUBLISHED, publication.last_error_reason

    # Every subscribed address got exactly one message; the unsubscribed one none.
    received = [m.rcpt_tos[0] for m in smtp.messages]
    expected = {s.email for s in subscribers if not s.email.startswith("bounce")}
    assert sorted(received) == sorted(expected)
    bounced = Subscriber.objects.get(email="bounce-me@example.org")
    assert bounced.status == "bounced"

    # Each message carries the tracked link of the variant recorded for its recipient.
    links = {link.variant.key: link for link in TrackedLink.objects.filter(publication=publication)}
    rows = {r.email: r for r in SendRecipient.objects.filter(send__publication=publication)}
    for message in smtp.messages:
        (rcpt,) = message.rcpt_tos
        text = message.message.get_body(("plain",)).get_content()
        key = rows[rcpt].variant_key
        assert f"/r/{links[key].code}" in text
        other = next(k for k in links if k != key)
        assert f"/r/{links[other].code}" not in text
        assert rows[rcpt].message_id == message.message["Message-ID"]

    # The split recorded as the variants' exposures equals what was delivered per variant.
    split = {
        r.variant.key: r.recipients for r in RecipientSplit.objects.filter(publication=publication)
    }
    delivered = {}
    for row in rows.values():
        if row.state == RecipientState.SENT:
            delivered[row.variant_key] = delivered.get(row.variant_key, 0) + 1
    assert split == delivered and sum(split.values()) == len(expected)

    # Metrics: recipients as impressions, no opens.
    snapshot = metrics.collect_for(publication)
    assert snapshot.impressions == len(expected) and snapshot.clicks is None

    # The unsubscribe link of a received message works against Kairos (RFC 8058 POST).
    first = smtp.messages[0]
    header = first.message["List-Unsubscribe"]
    url = header.strip().removeprefix("<").split(">")[0]
    assert first.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    response = Client().post(urlsplit(url).path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert Subscriber.objects.get(email=first.rcpt_tos[0]).status == "unsubscribed"


def test_a_retry_resumes_and_leaves_the_message_in_flight_in_doubt(
    brand, actor, audience, subscribers, smtp
):
    channel = email_channel(brand, smtp, audience.pk)
    publication = schedule(brand, actor, channel)
    # A worker claims, opens the ledger, marks the first recipient "sending"... and dies.
    from tests.delivery.conftest import claimed_by

    claimed = claimed_by("dead-worker", publication, started=True)
    ledger = DatabaseLedger(claimed, audience)
    ledger.open()
    first = ledger.pending(1)[0]
    assert ledger.begin(first.id)
    later = timezone.now() + timedelta(seconds=60)
    assert delivery.recover_lapsed_claims(now=later) == 1
    Publication.objects.filter(pk=publication.pk).update(next_attempt_at=timezone.now())

    report = delivery.deliver_publication(publication.pk)
    publication.refresh_from_db()
    assert publication.status == P.PUBLISHED, (report, publication.last_error_reason)
    received = [m.rcpt_tos[0] for m in smtp.messages]
    assert first.email not in received, "the message in flight is never resent"
    assert len(received) == len(set(received)) == 23  # 25 - the bounce - the one in doubt
    row = SendRecipient.objects.get(pk=int(first.id))
    assert row.state == RecipientState.IN_DOUBT and row.error_code == "in_flight_at_stop"

    # Shown to people: the send's counts through the API.
    client = token_client(brand.workspace, Role.VIEWER)
    url = reverse("api:audience-send-list", kwargs={"workspace_slug": brand.workspace.slug})
    (send,) = client.get(url, {"publication": publication.pk}).json()["results"]
    assert send["states"]["in_doubt"] == 1 and send["states"]["sent"] == 23
    assert send["finished_at"] is not None


def test_missing_and_empty_audiences_fail_with_codes_at_send_time(brand, audience, smtp):
    """The list can change between approval and the due time: the send checks again."""
    results = {}
    for name, audience_id in (("missing", 999999), ("empty", audience.pk)):
        channel = email_channel(brand, smtp, audience_id)
        item = f.ContentItemFactory(brand=brand, workspace=brand.workspace, channels=[channel])
        publication = f.PublicationFactory(
            content_item=item, channel=channel, workspace=brand.workspace
        )
        delivery.deliver_publication(publication.pk)
        publication.refresh_from_db()
        results[name] = publication
    missing, empty = results["missing"], results["empty"]
    assert (missing.status, missing.last_error_code) == (P.FAILED, "no_audience")
    assert empty.status == P.FAILED and "subscribed address" in empty.last_error_reason
    assert smtp.messages == []


def test_submit_refuses_an_empty_or_foreign_list_naming_the_channel(
    brand, actor, audience, other_workspace, smtp
):
    from calendar_app.workflow import WorkflowError
    from tests.audiences.conftest import AudienceListFactory

    own = email_channel(brand, smtp, audience.pk)
    item = f.ContentItemFactory(brand=brand, workspace=brand.workspace, channels=[own])
    with pytest.raises(WorkflowError) as caught:
        workflow.submit(item, actor(Role.EDITOR))
    assert "has no subscribed address" in caught.value.reason

    foreign = AudienceListFactory(brand__workspace=other_workspace, workspace=other_workspace)
    SubscriberFactory(audience=foreign)
    item.channels.set([email_channel(brand, smtp, foreign.pk)])
    with pytest.raises(WorkflowError) as caught:
        workflow.submit(item, actor(Role.EDITOR))
    assert "not one of its brand's lists" in caught.value.reason

    SubscriberFactory(audience=audience)
    item.channels.set([own])
    workflow.submit(item, actor(Role.EDITOR))  # a list with a subscriber: fine


def test_a_long_send_stops_at_its_time_budget_and_continues_without_using_up_attempts(
    brand, actor, audience, smtp, monkeypatch
) -> None:
    # A budget of 0 s: every attempt sends one message, then stops on purpose. 30 recipients
    # need 30 attempts, far more than the network's retry budget - and the send completes.
    monkeypatch.setenv("KAIROS_EMAIL_SEND_BUDGET", "0")
    for _ in range(30):
        SubscriberFactory(audience=audience)
    publication = schedule(brand, actor, email_channel(brand, smtp, audience.pk))
    for _ in range(40):
        publication.refresh_from_db()
        if publication.status != P.PENDING:
            break
        dispatch_due()
    publication.refresh_from_db()
    assert publication.status == P.PUBLISHED, publication.last_error_reason
    assert publication.attempts == 30 and publication.continued_attempts == 29
    to = [m.message["To"] for m in smtp.messages]
    assert len(to) == 30 and len(set(to)) == 30
    reasons = list(publication.attempt_log.values_list("error_code", flat=True))
    assert reasons.count("send_continues") == 29
