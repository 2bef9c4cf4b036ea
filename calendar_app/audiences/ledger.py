"""The host side of :class:`publishers.audience.AudienceLedger`: one send's recipients as rows.

Why rows, and why this many commits: a send must survive its worker being killed at any point
without sending anyone the newsletter twice or skipping anyone, and SMTP cannot be asked
afterwards what it received. So before each message the recipient's row is moved to ``sending``
in a committed transaction, and the previous message's result is written in the *same*
transaction: one commit per message, and at most one row left ``sending`` by a dead worker. The
next attempt opens the ledger again, turns that row into ``in_doubt`` (never resent, counted and
shown in the send), and carries on with the ``pending`` rows in id order.

Every move is a conditional ``UPDATE`` (``WHERE state IN (pending, deferred)``), so even two
workers holding the same publication by mistake (a lease lost in a database blip) cannot both
send to one recipient.

A database error inside the ledger is remembered and raised again by
:meth:`DatabaseLedger.raise_database_error` once the pipeline returns, so the worker treats it
like any database outage (the claim lapses, recovery hands the publication on, the next attempt
resumes from the rows) rather than as a plugin bug.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from django.db import DatabaseError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from calendar_app.audiences.models import (
    AudienceList,
    AudienceSend,
    RecipientState,
    SendRecipient,
    Subscriber,
    SubscriberStatus,
)
from calendar_app.audiences.services import unsubscribe_url
from calendar_app.models import Publication
from publishers import Problem, UnknownNetworkError
from publishers.audience import AUDIENCE_SETTING, LedgerSummary, Recipient, accepts_audience

logger = logging.getLogger("kairos.audiences")

S = RecipientState
OPEN = (S.PENDING, S.DEFERRED)
SNAPSHOT_BATCH = 1000


def audience_of(channel) -> AudienceList | None:
    """The list a channel sends to: its ``audience`` setting, within its brand."""
    raw = (channel.settings or {}).get(AUDIENCE_SETTING)
    if isinstance(raw, bool):
        return None
    try:
        pk = int(raw)
    except (TypeError, ValueError):
        return None
    if not 0 < pk < 2**63:
        return None
    return AudienceList.objects.filter(
        pk=pk, workspace_id=channel.workspace_id, brand_id=channel.brand_id
    ).first()


def ledger_for(publication: Publication, plugins) -> DatabaseLedger | None:
    """A ledger for ``publication`` when its network sends to an audience; ``None`` for the
    other networks (no query), and when the channel names no list of its brand (the network
    then refuses the send with a reason)."""
    try:
        network = plugins.network(publication.channel.network)
    except UnknownNetworkError:
        return None
    if not accepts_audience(network):
        return None
    audience = audience_of(publication.channel)
    return None if audience is None else DatabaseLedger(publication, audience)


def metrics_ledger_for(publication: Publication, network) -> DatabaseLedger | None:
    """A ledger to read a finished send's counts from, for ``fetch_metrics``."""
    if not accepts_audience(network, "fetch_metrics"):
        return None
    send = AudienceSend.objects.filter(publication=publication).select_related("audience").first()
    if send is None:
        return None
    ledger = DatabaseLedger(publication, send.audience)
    ledger.send = send
    return ledger


def _guarded(method):
    """Remember a database error (see the module docstring) and let it through."""

    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except DatabaseError as exc:
            self.database_error = exc
            raise

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


class DatabaseLedger:
    """One publication's send to one audience list, kept in ``AudienceSend`` / ``SendRecipient``."""

    def __init__(self, publication: Publication, audience: AudienceList) -> None:
        self.publication = publication
        self.audience = audience
        self.send: AudienceSend | None = None
        self.database_error: DatabaseError | None = None
        self._buffer: list[tuple[int, str, dict]] = []

    @property
    def audience_id(self) -> str:
        return str(self.audience.pk)

    def raise_database_error(self) -> None:
        if self.database_error is not None:
            raise self.database_error

    # --- opening -------------------------------------------------------------------------------

    @_guarded
    def open(self) -> LedgerSummary:
        now = timezone.now()
        with transaction.atomic():
            send, created = AudienceSend.objects.get_or_create(
                publication=self.publication,
                defaults={"workspace_id": self.publication.workspace_id, "audience": self.audience},
            )
            if created:
                send.total = self._snapshot(send)
                send.save(update_fields=["total", "updated_at"])
            else:
                left = SendRecipient.objects.filter(send=send, state=S.SENDING).update(
                    state=S.IN_DOUBT,
                    error_code="in_flight_at_stop",
                    error_reason=(
                        "The sending worker stopped while this message was being handed to the "
                        "mail server; it may or may not have arrived, and is not sent again."
                    ),
                    updated_at=now,
                )
                if left:
                    logger.warning(
                        "publication %s: %d recipient(s) in doubt after a stopped send",
                        self.publication.pk,
                        left,
                    )
        self.send = send
        self._skip_departed()
        return self.summary()

    def _snapshot(self, send: AudienceSend) -> int:
        """Copy the list's subscribed addresses into the send (in batches; one transaction)."""
        subscribers = (
            Subscriber.objects.filter(audience=self.audience, status=SubscriberStatus.SUBSCRIBED)
            .order_by("id")
            .values_list("id", "email", "name", "unsubscribe_token")
        )
        total, batch = 0, []
        for sid, email, name, token in subscribers.iterator(chunk_size=SNAPSHOT_BATCH):
            batch.append(
                SendRecipient(
                    send=send, subscriber_id=sid, email=email, name=name, unsubscribe_token=token
                )
            )
            if len(batch) >= SNAPSHOT_BATCH:
                SendRecipient.objects.bulk_create(batch)
                total, batch = total + len(batch), []
        if batch:
            SendRecipient.objects.bulk_create(batch)
            total += len(batch)
        return total

    def _skip_departed(self) -> int:
        """Recipients who left the list since the snapshot are not sent to."""
        departed = SendRecipient.objects.filter(send=self.send, state__in=OPEN).filter(
            Q(subscriber__isnull=True) | ~Q(subscriber__status=SubscriberStatus.SUBSCRIBED)
        )
        ids = list(departed.values_list("pk", flat=True))
        if not ids:
            return 0
        return SendRecipient.objects.filter(pk__in=ids, state__in=OPEN).update(
            state=S.SKIPPED,
            error_code="left_list",
            error_reason="Unsubscribed, bounced or complained after the send started.",
            updated_at=timezone.now(),
        )

    # --- variants ------------------------------------------------------------------------------

    @_guarded
    def unassigned(self) -> dict[str, str]:
        rows = SendRecipient.objects.filter(send=self.send, variant_key__isnull=True)
        return {str(pk): email for pk, email in rows.order_by("id").values_list("pk", "email")}

    @_guarded
    def assign(self, assignment: Mapping[str, Sequence[str]]) -> None:
        with transaction.atomic():
            for key, ids in assignment.items():
                ids = [int(i) for i in ids]
                for start in range(0, len(ids), 500):
                    SendRecipient.objects.filter(
                        send=self.send, pk__in=ids[start : start + 500], variant_key__isnull=True
                    ).update(variant_key=key)

    # --- walking -------------------------------------------------------------------------------

    @_guarded
    def pending(self, limit: int, after: str | None = None) -> list[Recipient]:
        self._skip_departed()
        rows = SendRecipient.objects.filter(send=self.send, state__in=OPEN)
        if after is not None:
            rows = rows.filter(pk__gt=int(after))
        values = rows.order_by("id").values_list(
            "id", "email", "name", "variant_key", "unsubscribe_token", "attempts"
        )[:limit]
        return [
            Recipient(str(pk), email, name, key or "", unsubscribe_url(token), attempts)
            for pk, email, name, key, token, attempts in values
        ]

    @_guarded
    def begin(self, recipient_id: str) -> bool:
        with transaction.atomic():
            self._write_buffer()
            return bool(
                SendRecipient.objects.filter(
                    pk=int(recipient_id), send=self.send, state__in=OPEN
                ).update(state=S.SENDING, updated_at=timezone.now())
            )

    def _record(self, recipient_id: str, state: str, **fields) -> None:
        self._buffer.append((int(recipient_id), state, fields))

    def sent(self, recipient_id: str, message_id: str) -> None:
        self._record(recipient_id, S.SENT, message_id=message_id[:255])

    def bounced(self, recipient_id: str, code: str, reason: str) -> None:
        self._record(recipient_id, S.BOUNCED, error_code=code[:64], error_reason=reason[:500])

    def deferred(self, recipient_id: str, code: str, reason: str) -> None:
        self._record(recipient_id, S.DEFERRED, error_code=code[:64], error_reason=reason[:500])

    def failed(self, recipient_id: str, code: str, reason: str) -> None:
        self._record(recipient_id, S.FAILED, error_code=code[:64], error_reason=reason[:500])

    def in_doubt(self, recipient_id: str, reason: str) -> None:
        self._record(recipient_id, S.IN_DOUBT, error_code="in_doubt", error_reason=reason[:500])

    def release(self, recipient_id: str) -> None:
        self._record(recipient_id, S.PENDING)

    def _write_buffer(self) -> None:
        """Write buffered results; the caller holds the transaction."""
        now = timezone.now()
        for pk, state, fields in self._buffer:
            row = SendRecipient.objects.filter(pk=pk, state__in=(S.SENDING, S.IN_DOUBT))
            if state == S.DEFERRED:
                fields = {**fields, "attempts": F("attempts") + 1}
            row.update(state=state, updated_at=now, **fields)
            if state == S.BOUNCED:
                subscriber = SendRecipient.objects.filter(pk=pk).values("subscriber_id")
                Subscriber.objects.filter(
                    pk__in=subscriber, status=SubscriberStatus.SUBSCRIBED
                ).update(
                    status=SubscriberStatus.BOUNCED,
                    status_changed_at=now,
                    status_reason=f"Refused by the mail server: {fields['error_reason']}"[:500],
                    updated_at=now,
                )
        self._buffer.clear()

    @_guarded
    def flush(self) -> None:
        if self._buffer:
            with transaction.atomic():
                self._write_buffer()

    # --- reading -------------------------------------------------------------------------------

    @_guarded
    def summary(self) -> LedgerSummary:
        if self.send is None:
            self.send = AudienceSend.objects.filter(publication=self.publication).first()
        if self.send is None:
            return LedgerSummary(self.audience_id, 0)
        rows = SendRecipient.objects.filter(send=self.send)
        states = dict(rows.values_list("state").annotate(n=Count("id")).order_by())
        per_variant = dict(
            rows.filter(state=S.SENT, variant_key__isnull=False)
            .values_list("variant_key")
            .annotate(n=Count("id"))
            .order_by()
        )
        total = sum(states.values())
        still = sum(states.get(s, 0) for s in (S.PENDING, S.DEFERRED, S.SENDING))
        if not still and self.send.finished_at is None:
            self.send.finished_at = timezone.now()
            AudienceSend.objects.filter(pk=self.send.pk, finished_at__isnull=True).update(
                finished_at=self.send.finished_at
            )
        return LedgerSummary(self.audience_id, total, states, per_variant)


def audience_problems(channel, network) -> list[Problem]:
    """What the channel's list lacks for a send, checked when a person submits, approves or
    schedules an item (the network's own ``validate`` cannot look lists up: it has no database).

    Nothing for networks that do not send to a list, and nothing when the channel names no list
    at all (the network reports that itself, as ``no_audience``).
    """
    if not accepts_audience(network):
        return []
    if (channel.settings or {}).get(AUDIENCE_SETTING) in (None, ""):
        return []
    audience = audience_of(channel)
    if audience is None:
        return [
            Problem(
                "no_audience",
                "The channel's audience list is not one of its brand's lists.",
                f"settings.{AUDIENCE_SETTING}",
            )
        ]
    subscribed = Subscriber.objects.filter(audience=audience, status=SubscriberStatus.SUBSCRIBED)
    if not subscribed.exists():
        return [
            Problem(
                "empty_audience",
                f"The audience list {audience.name!r} has no subscribed address.",
                f"settings.{AUDIENCE_SETTING}",
            )
        ]
    return []
