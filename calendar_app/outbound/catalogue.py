"""The outbound event catalogue: every type an integrator can subscribe to, and what it means.

Free of Django, so that the publication hooks (``plugin.py``) can name their events without
importing the project.
"""

from __future__ import annotations

CONTENT_CREATED = "content.created"
CONTENT_SUBMITTED = "content.submitted"
CONTENT_APPROVED = "content.approved"
CONTENT_SCHEDULED = "content.scheduled"
CONTENT_APPROVAL_EXPIRED = "content.approval_expired"
CONTENT_APPROVAL_ESCALATED = "content.approval_escalated"
PUBLICATION_SUCCEEDED = "publication.succeeded"
PUBLICATION_FAILED = "publication.failed"
PUBLICATION_UNCONFIRMED = "publication.unconfirmed"
PUBLICATION_RETRIED = "publication.retried"
TEMPLATE_FIRED = "template.fired"
CHANNEL_EXPIRED = "channel.expired"
EXPERIMENT_DECIDED = "experiment.decided"
CRISIS_ACTIVATED = "crisis.activated"
CRISIS_RESUMED = "crisis.resumed"
MOMENT_READINESS_FAILED = "moment.readiness_failed"
MOMENT_STARTED = "moment.started"
MOMENT_ENDED = "moment.ended"
LISTENING_SURGE = "listening.surge"
LISTENING_MESSAGE_CORRECTED = "listening.message_corrected"
LISTENING_PURGED = "listening.purged"
WEBHOOK_TEST = "webhook.test"

#: Every type a subscription may ask for, with what it means (shown in the API schema and docs).
CATALOGUE: dict[str, str] = {
    CONTENT_CREATED: "A content item was created (by a person, the API or a fired template).",
    CONTENT_SUBMITTED: "A content item was submitted for approval.",
    CONTENT_APPROVED: "A content item's current version was approved.",
    CONTENT_SCHEDULED: "A content item was scheduled or rescheduled (`transition.action` says which).",
    CONTENT_APPROVAL_EXPIRED: "A content item's time came while it still waited for approval: "
    "it did not go out and is a draft again.",
    CONTENT_APPROVAL_ESCALATED: "A content item waited longer than its approval step's deadline "
    "(`data.step` says which); the step's members were told.",
    PUBLICATION_SUCCEEDED: "A publication reached its network.",
    PUBLICATION_FAILED: "A publication failed for good (Kairos will not retry it by itself).",
    PUBLICATION_UNCONFIRMED: "A publication's outcome is unknown; a person must check the network.",
    PUBLICATION_RETRIED: "A failed, skipped or unconfirmed publication was sent again by a person.",
    TEMPLATE_FIRED: "A reactive template was fired.",
    CHANNEL_EXPIRED: "A channel's credentials expired; it must be reconnected.",
    EXPERIMENT_DECIDED: "An experiment's decision was recorded.",
    CRISIS_ACTIVATED: "A crisis playbook was activated: its scheduled posts are held.",
    CRISIS_RESUMED: "Posts held by a crisis were resumed (`data.ended` says whether it is over).",
    MOMENT_READINESS_FAILED: "A moment's readiness check found red items (`data.red` lists them).",
    MOMENT_STARTED: "A moment's window opened (`data.moment`, and the last readiness result).",
    MOMENT_ENDED: "A moment's window closed; `data.report` has its figures.",
    LISTENING_SURGE: "A watch surged (`data.alert.reason`: `volume` or `negative`); "
    "`data.playbooks` and `data.templates` list what fits. Nothing was posted.",
    LISTENING_MESSAGE_CORRECTED: "A person corrected a message's category or tone.",
    LISTENING_PURGED: "A person's messages were purged on request (`data.deleted` says how many).",
    WEBHOOK_TEST: "A test event sent from the API; only to the subscription under test.",
}
#: The types a subscription can filter on (the test event always goes to the one it tests).
EVENT_TYPES: tuple[str, ...] = tuple(t for t in CATALOGUE if t != WEBHOOK_TEST)
