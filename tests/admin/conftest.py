"""A small world with one row of every model, and clients for its people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from calendar_app import workflow
from calendar_app.models import (
    ApiToken,
    AttemptOutcome,
    CalendarFeed,
    Click,
    ContentStatus,
    Conversion,
    ConversionKey,
    DeliveryAttempt,
    Fire,
    MetricSnapshot,
    RecipientSplit,
    Role,
    TrackedLink,
    WebhookAttempt,
    WorkerHeartbeat,
)
from calendar_app.workflow import Actor
from tests import factories as f

SECRET = "zz-super-secret-token-value-123"


@pytest.fixture
def superuser(db):
    return f.UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_member(workspace):
    """``staff_member(role, ws=workspace)``: a staff user (not superuser) with that role."""

    def make(role: str = Role.EDITOR, ws=None):
        user = f.UserFactory(is_staff=True)
        f.MembershipFactory(workspace=ws or workspace, user=user, role=role)
        return user

    return make


@pytest.fixture
def login(client):
    def make(user):
        client.force_login(user)
        return client

    return make


@pytest.fixture
def world(workspace, brand):
    """One row of every model in ``workspace``, the channel holding :data:`SECRET`."""
    approver = f.MembershipFactory(workspace=workspace, role=Role.APPROVER).user
    actor = Actor.for_user(approver, workspace)
    channel = f.ChannelFactory(brand=brand, secrets={"token": SECRET})
    event = f.EventFactory(workspace=workspace, title="Launch party")
    experiment = f.ExperimentFactory(brand=brand)
    control = f.VariantFactory(experiment=experiment, key="control", is_control=True)
    f.VariantFactory(experiment=experiment, key="b")
    item = f.ContentItemFactory(
        brand=brand, channels=[channel], event=event, title="Scheduled post"
    )
    workflow.submit(item, actor)
    workflow.approve(item, actor)
    workflow.schedule(item, actor)
    publication = item.publications.get()
    DeliveryAttempt.objects.create(
        publication=publication, number=1, started_at=timezone.now(), outcome=AttemptOutcome.RETRY
    )
    MetricSnapshot.objects.create(
        workspace=workspace, publication=publication, collected_at=timezone.now(), impressions=10
    )
    template = f.ReactiveTemplateFactory(brand=brand, channels=[channel])
    fire = Fire.objects.create(
        workspace=workspace,
        template=template,
        template_version=1,
        fired_by_label="x",
        fired_at=datetime(2027, 2, 14, 23, 0, tzinfo=UTC),
    )
    token, token_text = ApiToken.issue(workspace=workspace, name="ci", role=Role.EDITOR)
    WorkerHeartbeat.objects.create(name="worker-1", role="worker", beat_at=timezone.now())
    link = TrackedLink.objects.create(
        workspace=workspace,
        publication=publication,
        variant=control,
        target_url="https://example.com/shop",
    )
    click = Click.objects.create(link=link, clicked_at=timezone.now(), visitor_hash="h" * 64)
    Conversion.objects.create(
        workspace=workspace,
        click=click,
        publication=publication,
        variant=control,
        external_event_id="order-1",
        occurred_at=timezone.now(),
        payload_hash="p" * 64,
    )
    RecipientSplit.objects.create(
        workspace=workspace, publication=publication, variant=control, recipients=10
    )
    _, conversion_secret = ConversionKey.issue(workspace=workspace, name="shop")
    _, feed_token = CalendarFeed.issue(brand=brand, name="Team feed")
    subscription, delivery = f.webhook_rows(workspace)
    WebhookAttempt.objects.create(
        delivery=delivery, number=1, started_at=timezone.now(), outcome="failed"
    )
    audience_rows(workspace, brand, publication)
    crisis_rows(workspace, actor)
    link_token = approval_rows(workspace, approver)
    f.MomentFactory(brand=brand, templates=[template])
    f.PostingSlotFactory(brand=brand, channel=channel)
    recurring_rows(brand, actor, channel)
    listening_rows(workspace, brand, channel)
    return {
        "workspace": workspace,
        "brand": brand,
        "channel": channel,
        "event": event,
        "experiment": experiment,
        "control": control,
        "item": item,
        "publication": publication,
        "template": template,
        "fire": fire,
        "token": token,
        "clear_texts": [
            SECRET,
            token_text,
            token_text.split(".", 1)[1],
            conversion_secret,
            subscription.secret["current"],
            feed_token,
            link_token,
        ],
        "approver": approver,
        "tomorrow": timezone.now() + timedelta(days=1),
    }


@pytest.fixture(autouse=True)
def _admin_urls(settings):
    settings.ROOT_URLCONF = "tests.admin.urls"


def audience_rows(workspace, brand, publication) -> None:
    """An audience list with a subscriber, and a send of ``publication`` with its recipient."""
    from calendar_app.audiences.models import AudienceList, AudienceSend, SendRecipient, Subscriber

    audience = AudienceList.objects.create(workspace=workspace, brand=brand, name="News")
    subscriber = Subscriber.objects.create(
        workspace=workspace,
        audience=audience,
        email="reader@example.org",
        consent_at=timezone.now(),
        consent_source="form",
    )
    send = AudienceSend.objects.create(
        workspace=workspace, publication=publication, audience=audience, total=1
    )
    SendRecipient.objects.create(
        send=send,
        subscriber=subscriber,
        email=subscriber.email,
        unsubscribe_token=subscriber.unsubscribe_token,
        state="in_doubt",
    )


def recurring_rows(brand, actor, channel) -> None:
    """A weekly series of an approved item, and an evergreen item."""
    from calendar_app.models import EvergreenItem
    from calendar_app.recurring import services

    source = f.approved_item(brand, actor, channels=[channel], title="Monday tip")
    services.create_series(
        source,
        actor,
        rrule="FREQ=WEEKLY;COUNT=2",
        starts_at=timezone.now() + timedelta(days=3),
        exdates=[],
    )
    story = f.approved_item(brand, actor, channels=[channel], title="Our story")
    EvergreenItem.objects.create(workspace=brand.workspace, content_item=story)


def listening_rows(workspace, brand, channel) -> None:
    """A watch, a message matching it, an open alert it raised, and the retention policy."""
    from calendar_app.models import ListeningPolicy

    watch = f.WatchFactory(brand=brand, workspace=workspace)
    f.MessageFactory(channel=channel, watch=watch)
    f.AlertFactory(watch=watch, reason="negative", count=20, negative_share=0.8)
    ListeningPolicy.objects.create(workspace=workspace)


def approval_rows(workspace, approver) -> str:
    """A brand with a policy, a one-step chain, an item in review with a vote-less link and a
    comment, and another item approved through the chain (its vote); returns the link's token."""
    from calendar_app.approvals.links import create_link
    from calendar_app.approvals.services import add_comment

    careful = f.BrandFactory(workspace=workspace, name="Careful brand")
    f.ApprovalPolicyFactory(brand=careful, workspace=workspace, separate_duties=False)
    f.ApprovalStepFactory(brand=careful, workspace=workspace, name="Legal", members=[approver])
    actor = Actor.for_user(approver, workspace)
    waiting, voted = (
        f.ContentItemFactory(brand=careful, status=ContentStatus.IN_REVIEW) for _ in range(2)
    )
    workflow.approve(voted, actor)
    add_comment(waiting, actor, f"@{approver.username} please look")
    return create_link(waiting, actor, "Dana", "dana@client.example").token


def crisis_rows(workspace, actor):
    """A playbook of a brand with nothing scheduled, activated once (so the world's own posts
    and templates are not held) and drilled once."""
    from calendar_app.crisis.services import activate, drill

    quiet = f.BrandFactory(workspace=workspace, name="Quiet brand")
    playbook = f.PlaybookFactory(workspace=workspace, brand=quiet, name="Recall plan")
    drill(playbook, actor, "rehearsal")
    activate(playbook, actor, "recall")
