"""Every model of Kairos, re-exported so the rest of the code imports from one place."""

from calendar_app.connect.models import ChannelToken, OAuthFlow, OAuthRegistration
from calendar_app.media.models import MediaAsset
from calendar_app.models.brands import Brand, Channel, ChannelStatus
from calendar_app.models.content import (
    Approval,
    ApprovalDecision,
    ContentItem,
    ContentStatus,
    LatenessPolicy,
    Priority,
    Transition,
)
from calendar_app.models.delivery import (
    AttemptOutcome,
    DeliveryAttempt,
    MetricSnapshot,
    Publication,
    PublicationStatus,
    WorkerHeartbeat,
)
from calendar_app.models.events import BrandFit, Event, EventSource
from calendar_app.models.experiments import Experiment, ExperimentStatus, Metric, Variant
from calendar_app.models.feeds import CalendarFeed
from calendar_app.models.idempotency import IdempotencyRecord
from calendar_app.models.reactive import Fire, ReactiveTemplate, Scenario
from calendar_app.models.tenancy import ApiToken, Membership, Role, Workspace
from calendar_app.models.tracking import (
    Click,
    Conversion,
    ConversionKey,
    RecipientSplit,
    TrackedLink,
)
from calendar_app.models.webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEvent,
    WebhookSubscription,
)

__all__ = [
    "ApiToken",
    "Approval",
    "ApprovalDecision",
    "AttemptOutcome",
    "Brand",
    "BrandFit",
    "CalendarFeed",
    "Channel",
    "ChannelStatus",
    "ChannelToken",
    "Click",
    "ContentItem",
    "ContentStatus",
    "Conversion",
    "ConversionKey",
    "DeliveryAttempt",
    "Event",
    "EventSource",
    "Experiment",
    "ExperimentStatus",
    "Fire",
    "IdempotencyRecord",
    "LatenessPolicy",
    "MediaAsset",
    "Membership",
    "Metric",
    "MetricSnapshot",
    "OAuthFlow",
    "OAuthRegistration",
    "Priority",
    "Publication",
    "PublicationStatus",
    "ReactiveTemplate",
    "RecipientSplit",
    "Role",
    "Scenario",
    "TrackedLink",
    "Transition",
    "Variant",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEvent",
    "WebhookSubscription",
    "WorkerHeartbeat",
    "Workspace",
]

# Models owned by a package of their own, re-exported last (they build on the ones above).
from calendar_app.audiences.models import (
    AudienceList,
    AudienceSend,
    SendRecipient,
    Subscriber,
    SubscriberStatus,
)

__all__ += ["AudienceList", "AudienceSend", "SendRecipient", "Subscriber", "SubscriberStatus"]
from calendar_app.crisis.models import (  # noqa: E402
    Activation,
    CrisisScenario,
    HeldOutcome,
    HeldPublication,
    Playbook,
)

__all__ += ["Activation", "CrisisScenario", "HeldOutcome", "HeldPublication", "Playbook"]
from calendar_app.approvals.models import (  # noqa: E402
    ApprovalLink,
    ApprovalPolicy,
    ApprovalStep,
    Comment,
    StepEscalation,
    StepRule,
    StepVote,
    TemplateStepVote,
)

__all__ += [
    "ApprovalLink",
    "ApprovalPolicy",
    "ApprovalStep",
    "Comment",
    "StepEscalation",
    "StepRule",
    "StepVote",
    "TemplateStepVote",
]
from calendar_app.moments.models import Moment, MomentHold, MomentHoldOutcome  # noqa: E402

__all__ += ["Moment", "MomentHold", "MomentHoldOutcome"]
from calendar_app.slots.models import PostingSlot, QueueEntry  # noqa: E402

__all__ += ["PostingSlot", "QueueEntry"]
from calendar_app.recurring.models import (  # noqa: E402
    ContentSeries,
    EvergreenItem,
    SeriesOccurrence,
)

__all__ += ["ContentSeries", "EvergreenItem", "SeriesOccurrence"]
from calendar_app.listening.models import (  # noqa: E402
    Alert,
    ListeningPolicy,
    Message,
    StreamCursor,
    Watch,
)

__all__ += ["Alert", "ListeningPolicy", "Message", "StreamCursor", "Watch"]
