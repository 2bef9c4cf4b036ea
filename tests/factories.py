"""factory_boy factories for every model: tests say what matters and let these fill the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from datetime import time as dt_time

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from calendar_app import models as m


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw-for-tests")


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Workspace

    name = factory.Sequence(lambda n: f"Agency {n}")
    slug = factory.Sequence(lambda n: f"agency-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Membership

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    role = m.Role.EDITOR


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Brand

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Brand {n}")
    slug = factory.Sequence(lambda n: f"brand-{n}")
    time_zone = "Europe/Paris"
    language = "en"
    profile = factory.LazyFunction(
        lambda: {"themes": ["snacks", "sport"], "values": ["fun"], "audience": ["young adults"]}
    )


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Channel

    brand = factory.SubFactory(BrandFactory)
    workspace = factory.SelfAttribute("brand.workspace")
    network = "sandbox"
    handle = factory.Sequence(lambda n: f"@handle{n}")
    settings = factory.LazyFunction(dict)
    secrets = factory.LazyFunction(lambda: {"token": "s3cret-token"})


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Event

    workspace = None
    title = factory.Sequence(lambda n: f"Event {n}")
    starts_at = factory.LazyFunction(lambda: datetime(2027, 2, 14, 23, 30, tzinfo=UTC))
    ends_at = factory.LazyAttribute(lambda e: e.starts_at + timedelta(hours=4))
    time_zone = "America/Los_Angeles"
    themes = factory.LazyFunction(lambda: ["sport", "american football"])
    audience = factory.LazyFunction(lambda: ["men", "families"])


class ContentItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.ContentItem
        skip_postgeneration_save = True

    brand = factory.SubFactory(BrandFactory)
    workspace = factory.SelfAttribute("brand.workspace")
    title = factory.Sequence(lambda n: f"Post {n}")
    body = "You can still dunk in the dark."
    scheduled_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))

    @factory.post_generation
    def channels(self, create, extracted, **kwargs):
        if not create:
            return
        if extracted is None:
            extracted = [ChannelFactory(brand=self.brand, workspace=self.workspace)]
        self.channels.set(extracted)


class ExperimentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Experiment

    brand = factory.SubFactory(BrandFactory)
    workspace = factory.SelfAttribute("brand.workspace")
    name = factory.Sequence(lambda n: f"CTA test {n}")


class VariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Variant

    experiment = factory.SubFactory(ExperimentFactory)
    key = factory.Sequence(lambda n: f"v{n}")
    name = factory.LazyAttribute(lambda v: v.key)
    cta_text = "Shop now"
    cta_url = "https://example.com/shop"


class ReactiveTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.ReactiveTemplate
        skip_postgeneration_save = True

    brand = factory.SubFactory(BrandFactory)
    workspace = factory.SelfAttribute("brand.workspace")
    name = factory.Sequence(lambda n: f"Reaction {n}")
    body = "What a moment: {{ moment }}!"
    max_fires = 3
    cooldown = timedelta(minutes=5)

    @factory.post_generation
    def channels(self, create, extracted, **kwargs):
        if not create:
            return
        if extracted is None:
            extracted = [ChannelFactory(brand=self.brand, workspace=self.workspace)]
        self.channels.set(extracted)


class PublicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Publication

    content_item = factory.SubFactory(ContentItemFactory)
    workspace = factory.SelfAttribute("content_item.workspace")
    channel = factory.SubFactory(
        ChannelFactory,
        brand=factory.SelfAttribute("..content_item.brand"),
        workspace=factory.SelfAttribute("..content_item.workspace"),
    )
    due_at = factory.LazyFunction(timezone.now)
    next_attempt_at = factory.SelfAttribute("due_at")


class MetricSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.MetricSnapshot

    publication = factory.SubFactory(PublicationFactory)
    workspace = factory.SelfAttribute("publication.workspace")
    collected_at = factory.LazyFunction(timezone.now)
    impressions = 1000
    clicks = 20


def webhook_rows(workspace):
    """One subscription, one event and one failed delivery of it: the rows webhook endpoints list."""
    from calendar_app.outbound.sender import new_secret_value

    secret, _ = new_secret_value()
    subscription = m.WebhookSubscription.objects.create(
        workspace=workspace, url="https://hooks.example.com/kairos", secret=secret
    )
    event = m.WebhookEvent.objects.create(
        workspace=workspace, type="content.created", payload={"id": 1}, occurred_at=timezone.now()
    )
    delivery = m.WebhookDelivery.objects.create(
        workspace=workspace,
        subscription=subscription,
        event=event,
        status=m.WebhookDeliveryStatus.FAILED,
        attempts=1,
    )
    return subscription, delivery


def png_bytes(width: int = 4, height: int = 3, colour: str = "red") -> bytes:
    """A real, tiny PNG (Pillow-encoded), for uploads and stored media."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


class MediaAssetFactory(factory.django.DjangoModelFactory):
    """A stored medium, created through the same ingest path as an upload."""

    class Meta:
        model = m.MediaAsset

    workspace = factory.SubFactory(WorkspaceFactory)
    alt_text = "A red square"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        import io

        from calendar_app.media.ingest import store_upload

        content = kwargs.pop("content", None) or png_bytes()
        return store_upload(
            kwargs["workspace"],
            io.BytesIO(content),
            name=kwargs.get("original_name", "square.png"),
            alt_text=kwargs.get("alt_text", ""),
        )


def oauth_flow(brand, **fields):
    """A connection in progress (as ``POST .../connections/`` leaves it)."""
    import secrets
    from datetime import timedelta

    from calendar_app.connect.models import OAuthFlow

    defaults = {
        "workspace": brand.workspace,
        "brand": brand,
        "network": "mastodon",
        "settings": {"instance": "https://mastodon.example"},
        "state": secrets.token_urlsafe(32),
        "redirect_uri": "https://kairos.example/connect/callback",
        "client_id": "client",
        "secrets": {"code_verifier": "v" * 64},
        "expires_at": timezone.now() + timedelta(minutes=10),
    }
    return OAuthFlow.objects.create(**{**defaults, **fields})


class PlaybookFactory(factory.django.DjangoModelFactory):
    """A crisis playbook; scope it with ``brand``, ``channels`` and ``tag``."""

    class Meta:
        model = m.Playbook
        skip_postgeneration_save = True

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Outage plan {n}")
    scenario = m.CrisisScenario.OUTAGE
    brand = None
    notify_emails = factory.LazyFunction(lambda: ["comms@example.com"])

    @factory.post_generation
    def channels(self, create, extracted, **kwargs):
        if create and extracted:
            self.channels.set(extracted)

    @factory.post_generation
    def holding_templates(self, create, extracted, **kwargs):
        if create and extracted:
            self.holding_templates.set(extracted)


class ApprovalStepFactory(factory.django.DjangoModelFactory):
    """One step of a brand's approval chain; pass ``members=[user, ...]``."""

    class Meta:
        model = m.ApprovalStep
        skip_postgeneration_save = True

    brand = factory.SubFactory(BrandFactory)
    workspace = factory.SelfAttribute("brand.workspace")
    # The brand's next step (orders are 1-100): a process-wide sequence passed 100 once enough
    # tests had made steps, and the schema fuzz then saw an order outside the schema.
    order = factory.LazyAttribute(
        lambda o: m.ApprovalStep.objects.filter(brand=o.brand).count() + 1
    )
    name = factory.Sequence(lambda n: f"Step {n}")
    rule = m.StepRule.ONE

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        if create and extracted:
            self.members.set(extracted)


class ApprovalPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.ApprovalPolicy

    brand = factory.SubFactory(BrandFactory)
    workspace = factory.SelfAttribute("brand.workspace")
    separate_duties = True


class MomentFactory(factory.django.DjangoModelFactory):
    """A moment whose window opens in two hours and lasts two; arm it with ``templates``."""

    class Meta:
        model = m.Moment
        skip_postgeneration_save = True

    brand = factory.SubFactory(BrandFactory)
    workspace = factory.SelfAttribute("brand.workspace")
    name = factory.Sequence(lambda n: f"Final {n}")
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=2))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(hours=2))

    @factory.post_generation
    def templates(self, create, extracted, **kwargs):
        if create and extracted:
            self.templates.set(extracted)


class PostingSlotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.PostingSlot

    brand = factory.SubFactory(BrandFactory)
    workspace = factory.SelfAttribute("brand.workspace")
    channel = None
    weekday = 1  # Tuesday
    local_time = factory.LazyFunction(lambda: dt_time(9, 0))


def approved_item(brand, actor, **fields):
    """An item taken through submit and approve (ready for "add to queue")."""
    from calendar_app import workflow

    item = ContentItemFactory(brand=brand, workspace=brand.workspace, **fields)
    workflow.submit(item, actor)
    return workflow.approve(item, actor)


class WatchFactory(factory.django.DjangoModelFactory):
    """A watch of the brand's name with the default surge thresholds."""

    class Meta:
        model = m.Watch

    brand = factory.SubFactory(BrandFactory)
    workspace = factory.SelfAttribute("brand.workspace")
    name = factory.Sequence(lambda n: f"Watch {n}")
    terms = factory.LazyFunction(lambda: ["acme"])


class AlertFactory(factory.django.DjangoModelFactory):
    """A volume surge on a watch: 30 messages in the last hour against a baseline of 2."""

    class Meta:
        model = m.Alert

    watch = factory.SubFactory(WatchFactory)
    brand = factory.SelfAttribute("watch.brand")
    workspace = factory.SelfAttribute("watch.workspace")
    reason = "volume"
    window_end = factory.LazyFunction(timezone.now)
    window_start = factory.LazyAttribute(lambda o: o.window_end - timedelta(hours=1))
    count = 30
    baseline = 2.0
    negative_share = 0.7
    baseline_negative_share = 0.1


class MessageFactory(factory.django.DjangoModelFactory):
    """A mention on a sandbox channel, published a minute ago."""

    class Meta:
        model = m.Message

    channel = factory.SubFactory(ChannelFactory)
    brand = factory.SelfAttribute("channel.brand")
    workspace = factory.SelfAttribute("channel.workspace")
    kind = "mention"
    network_id = factory.Sequence(lambda n: f"msg-{n}")
    author_handle = factory.Sequence(lambda n: f"@person{n}@example.social")
    author_name = "A Person"
    text = "Love acme!"
    language = "en"
    published_at = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=1))
