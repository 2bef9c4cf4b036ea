"""Life-cycle changes → webhook events, through Django signals (no edit of the workflow code).

=========================  ================================================================
event                      when
=========================  ================================================================
``content.created``        a ``ContentItem`` row is created (any door: API, admin, a fire)
``content.submitted``      a ``Transition`` with action ``submit`` is recorded
``content.approved``       … action ``approve``
``content.scheduled``      … action ``schedule`` or ``reschedule``
``content.approval_expired`` … action ``expire`` (its time came before it was approved)
``template.fired``         a ``Fire`` row is created
``channel.expired``        a ``Channel`` is saved with status ``expired`` after another status
``experiment.decided``     an ``Experiment`` is saved with a new ``decided_at``
``publication.retried``    a ``Publication`` saved as ``pending`` was loaded as ``failed``,
                           ``unconfirmed`` or ``skipped`` (``retry_publication``)
=========================  ================================================================

Status changes are detected by reading the stored value in ``pre_save`` - only when the new
value is the interesting one (a channel saved as ``expired``, a publication saved as ``pending``,
an experiment saved with a decision time), so ordinary saves cost nothing and a stale or
refreshed instance cannot fool the comparison. Bulk ``QuerySet.update()`` calls send no signal;
the life-cycle code saves these rows one by one where these events matter. Raw saves
(``loaddata``) emit nothing. The ``publication.succeeded/failed/unconfirmed`` events come from
the plugin hooks instead (:mod:`calendar_app.outbound.plugin`).
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save, pre_save

from calendar_app.models import (
    Channel,
    ChannelStatus,
    ContentItem,
    Experiment,
    Fire,
    Publication,
    PublicationStatus,
    Transition,
)
from calendar_app.outbound import events, payloads
from calendar_app.outbound.events import emit_safely

TRANSITION_EVENTS = {
    "submit": events.CONTENT_SUBMITTED,
    "approve": events.CONTENT_APPROVED,
    "schedule": events.CONTENT_SCHEDULED,
    "reschedule": events.CONTENT_SCHEDULED,
    "expire": events.CONTENT_APPROVAL_EXPIRED,
}
RETRIED_FROM = frozenset(
    {PublicationStatus.FAILED, PublicationStatus.UNCONFIRMED, PublicationStatus.SKIPPED}
)
_BEFORE = "_kairos_outbound_before"


def _interesting(instance: Any) -> tuple[str, Any] | None:
    """The tracked field and the value worth comparing with the stored one, if any."""
    if isinstance(instance, Channel) and instance.status == ChannelStatus.EXPIRED:
        return "status", instance.status
    if isinstance(instance, Publication) and instance.status == PublicationStatus.PENDING:
        return "status", instance.status
    if isinstance(instance, Experiment) and instance.decided_at is not None:
        return "decided_at", instance.decided_at
    return None


def _read_before(sender: type, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """pre_save: remember the stored value of the tracked field when the new one matters."""
    setattr(instance, _BEFORE, None)
    tracked = None if raw or instance.pk is None else _interesting(instance)
    if tracked is not None:
        stored = sender._default_manager.filter(pk=instance.pk).values_list(tracked[0], flat=True)
        setattr(instance, _BEFORE, stored.first())


def _before(instance: Any) -> Any:
    return getattr(instance, _BEFORE, None)


def content_item_saved(
    sender: type, instance: ContentItem, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if created and not raw:
        emit_safely(
            instance.workspace_id,
            events.CONTENT_CREATED,
            {"content_item": payloads.content_item(instance)},
            instance.brand_id,
        )


def transition_saved(
    sender: type, instance: Transition, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    event_type = TRANSITION_EVENTS.get(instance.action)
    if not created or raw or event_type is None:
        return
    item = instance.content_item
    emit_safely(
        item.workspace_id,
        event_type,
        {"content_item": payloads.content_item(item), "transition": payloads.transition(instance)},
        item.brand_id,
    )


def fire_saved(
    sender: type, instance: Fire, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if created and not raw:
        emit_safely(
            instance.workspace_id,
            events.TEMPLATE_FIRED,
            {"fire": payloads.fire(instance)},
            instance.template.brand_id,
        )


def channel_saved(
    sender: type, instance: Channel, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    # A channel created expired (fixtures, imports) did not *become* expired.
    if raw or created or instance.status != ChannelStatus.EXPIRED:
        return
    if _before(instance) == ChannelStatus.EXPIRED:
        return
    emit_safely(
        instance.workspace_id,
        events.CHANNEL_EXPIRED,
        {"channel": payloads.channel(instance)},
        instance.brand_id,
    )


def experiment_saved(
    sender: type, instance: Experiment, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    # ``record_decision`` saves with update_fields naming decided_at: each call is a decision
    # (even at the same instant); any other save counts only if it changed the decision time.
    update_fields = kwargs.get("update_fields")
    if raw or created or instance.decided_at is None:
        return
    if not (update_fields and "decided_at" in update_fields) and (
        _before(instance) == instance.decided_at
    ):
        return
    emit_safely(
        instance.workspace_id,
        events.EXPERIMENT_DECIDED,
        {"experiment": payloads.experiment(instance)},
        instance.brand_id,
    )


def publication_saved(
    sender: type, instance: Publication, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    before = _before(instance)
    if raw or created or instance.status != PublicationStatus.PENDING or before not in RETRIED_FROM:
        return
    emit_safely(
        instance.workspace_id,
        events.PUBLICATION_RETRIED,
        {"publication": payloads.publication(instance), "retried_from": before},
        instance.channel.brand_id,
    )


_RECEIVERS = [
    (post_save, content_item_saved, ContentItem),
    (post_save, transition_saved, Transition),
    (post_save, fire_saved, Fire),
    (post_save, channel_saved, Channel),
    (post_save, experiment_saved, Experiment),
    (post_save, publication_saved, Publication),
    (pre_save, _read_before, Channel),
    (pre_save, _read_before, Publication),
    (pre_save, _read_before, Experiment),
]


def _uid(signal: Any, receiver: Any, model: type) -> str:
    kind = "pre" if signal is pre_save else "post"
    return f"kairos_outbound_{kind}_{receiver.__name__}_{model.__name__}"


def connect() -> None:
    """Connect every receiver (idempotent). Called from ``CalendarAppConfig.ready()``."""
    for signal, receiver, model in _RECEIVERS:
        signal.connect(
            receiver, sender=model, weak=False, dispatch_uid=_uid(signal, receiver, model)
        )


def disconnect() -> None:
    """Undo :func:`connect` (tests that want the life cycle without webhooks)."""
    for signal, receiver, model in _RECEIVERS:
        signal.disconnect(receiver, sender=model, dispatch_uid=_uid(signal, receiver, model))


def connected() -> bool:
    """Whether :func:`connect` has run (tests restore what they found)."""
    signal, receiver, model = _RECEIVERS[0]
    uid = _uid(signal, receiver, model)
    return any(entry[0][0] == uid for entry in signal.receivers)
