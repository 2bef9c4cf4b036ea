"""Sending to an audience that Kairos keeps: the recipient ledger a network receives.

Most networks reach their followers through the network itself. An email newsletter reaches a
list that *Kairos* keeps (subscribers with their consent), one message per recipient. Such a
network opts in by accepting a keyword argument ``audience`` in :meth:`Network.publish` (and, to
report what was sent, in :meth:`Network.fetch_metrics`)::

    def publish(self, post, channel, idempotency_key, *, audience=None): ...

The host inspects the signature once per network class (:func:`accepts_audience`, the way
pluggy lets a hook implementation opt into arguments), so every existing network keeps working
unchanged. The channel names its list in the setting :data:`AUDIENCE_SETTING`; the host resolves
it inside the channel's workspace and hands over an :class:`AudienceLedger`.

Why a ledger and not a list of addresses: a send to 10,000 people takes minutes, and the worker
doing it may be killed at any point. SMTP has no idempotency key, so the only way to resend to
nobody and to skip nobody is to write down, durably, where each recipient stands. The ledger is
that record; the network walks it:

1. :meth:`~AudienceLedger.open` - the first call snapshots the list (subscribed addresses only);
   later calls (a retry after a crash) turn every recipient left ``sending`` into ``in_doubt``.
2. :meth:`~AudienceLedger.unassigned` / :meth:`~AudienceLedger.assign` - the per-recipient A/B
   split (:func:`publishers.split_recipients`), recorded per recipient.
3. :meth:`~AudienceLedger.pending` - who still needs the message, in a stable order.
4. :meth:`~AudienceLedger.begin` *before* sending to one recipient (durable when it returns:
   the recipient is ``sending``), then exactly one of ``sent`` / ``bounced`` / ``deferred`` /
   ``failed`` / ``in_doubt`` / ``release`` after. Results may be buffered and written with the next
   ``begin`` or :meth:`~AudienceLedger.flush`, so one send costs one commit per message.

**The one message in flight.** A recipient found ``sending`` when the ledger is opened again was
being sent when the worker died: the message may or may not have left (SMTP cannot tell after
the fact). It becomes ``in_doubt`` and is *not* resent - a duplicate newsletter is worse than a
missing one, and the count is shown to people. Because ``begin`` commits the previous result
with the next mark, at most one recipient per killed worker can be in doubt.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "AUDIENCE_SETTING",
    "AudienceLedger",
    "LedgerSummary",
    "MemoryLedger",
    "Recipient",
    "RecipientState",
    "accepts_audience",
    "audience_kwargs",
]

#: The channel setting holding the id of the audience list a network sends to.
AUDIENCE_SETTING = "audience"


class RecipientState(enum.StrEnum):
    """Where one recipient of one send stands."""

    #: Not tried yet.
    PENDING = "pending"
    #: ``begin`` was called: the message is being sent right now.
    SENDING = "sending"
    #: The server accepted the message (``message_id`` recorded).
    SENT = "sent"
    #: The server refused the address for good (5xx); the subscriber is marked bounced.
    BOUNCED = "bounced"
    #: The server asked to try later (4xx); the next attempt tries again.
    DEFERRED = "deferred"
    #: Given up on this recipient (too many deferrals, or refused for a reason of its own).
    FAILED = "failed"
    #: The message may or may not have left (the worker died, or the connection dropped,
    #: after the message was handed over). Never resent.
    IN_DOUBT = "in_doubt"
    #: The subscriber unsubscribed (or bounced) after the send started: not sent.
    SKIPPED = "skipped"


#: States from which a recipient can still receive the message.
OPEN_STATES = frozenset({RecipientState.PENDING, RecipientState.DEFERRED})


@dataclass(frozen=True, slots=True)
class Recipient:
    """One recipient still to send, as the host hands it over.

    :ivar id: the ledger's id of this recipient in this send (opaque; use it to report back).
    :ivar email: the address to send to.
    :ivar name: the subscriber's name, possibly empty.
    :ivar variant_key: the experiment arm assigned to this recipient (``""`` when the post is
        not split); render that arm's call to action.
    :ivar unsubscribe_url: the one-click unsubscribe URL Kairos serves for this subscriber
        (RFC 8058): put it in ``List-Unsubscribe`` and in the message.
    :ivar attempts: how many times this recipient was deferred already.
    """

    id: str
    email: str
    name: str = ""
    variant_key: str = ""
    unsubscribe_url: str = ""
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class LedgerSummary:
    """Where a send stands: how many recipients in each state, and who got which variant.

    ``sent_per_variant`` counts delivered messages per variant key; it is what a network
    reports as ``PublishResult.recipients_per_variant`` (the variants' exposures).
    """

    audience_id: str
    total: int
    states: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    sent_per_variant: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "states", MappingProxyType(dict(self.states)))
        object.__setattr__(self, "sent_per_variant", MappingProxyType(dict(self.sent_per_variant)))

    def count(self, state: RecipientState | str) -> int:
        return int(self.states.get(str(state), 0))

    @property
    def open(self) -> int:
        """Recipients that may still receive the message."""
        return sum(self.count(s) for s in OPEN_STATES)


@runtime_checkable
class AudienceLedger(Protocol):
    """The host's record of one send to one audience (see the module docstring for the walk).

    Every method may raise nothing but the host's own errors (a database outage): a network
    lets those through, and the attempt is retried from the ledger.
    """

    @property
    def audience_id(self) -> str:
        """The id of the audience list, for messages and logs."""
        ...

    def open(self) -> LedgerSummary:
        """Start or resume the send: snapshot the list the first time; turn recipients left
        ``sending`` by a dead worker into ``in_doubt``. Returns the summary."""
        ...

    def unassigned(self) -> Mapping[str, str]:
        """Recipients with no variant yet (all of them on the first open), as
        ``{recipient id: address}``: split on the address, which stays the same from one send to
        the next, so a recipient keeps their arm across the sends of one experiment."""
        ...

    def assign(self, assignment: Mapping[str, Sequence[str]]) -> None:
        """Record each recipient's variant: ``{variant key: [recipient ids]}``, as
        :func:`publishers.split_recipients` returns it. Recipients already assigned keep theirs."""
        ...

    def pending(self, limit: int, after: str | None = None) -> list[Recipient]:
        """Up to ``limit`` recipients still to send (``pending`` or ``deferred``), in the
        ledger's stable order, after recipient ``after``."""
        ...

    def begin(self, recipient_id: str) -> bool:
        """Mark the recipient ``sending``, durably, before anything is sent (buffered results
        are written in the same commit). ``False``: not open any more (someone else sent it,
        or the subscriber left); do not send."""
        ...

    def sent(self, recipient_id: str, message_id: str) -> None: ...

    def bounced(self, recipient_id: str, code: str, reason: str) -> None:
        """Permanent refusal of the address; the host also marks the subscriber bounced."""
        ...

    def deferred(self, recipient_id: str, code: str, reason: str) -> None:
        """Temporary refusal: the recipient is tried again by a later attempt."""
        ...

    def failed(self, recipient_id: str, code: str, reason: str) -> None:
        """Given up on this recipient (not the address's fault for good)."""
        ...

    def in_doubt(self, recipient_id: str, reason: str) -> None:
        """The message may have left; it will not be resent."""
        ...

    def release(self, recipient_id: str) -> None:
        """Nothing was sent after ``begin`` (the connection failed first): back to pending."""
        ...

    def flush(self) -> None:
        """Write buffered results now."""
        ...

    def summary(self) -> LedgerSummary: ...


# --- opting in -------------------------------------------------------------------------------------

_ACCEPTS: dict[tuple[type, str], bool] = {}


def accepts_audience(network: object, method: str = "publish") -> bool:
    """Whether ``network.<method>`` names a parameter ``audience`` (``**kwargs`` does not count:
    a network opts in knowingly).

    Inspected once per class and method, then cached, so it costs nothing per delivery.
    """
    key = (type(network), method)
    known = _ACCEPTS.get(key)
    if known is None:
        func: Callable[..., Any] | None = getattr(type(network), method, None)
        known = False
        if func is not None:
            try:
                parameters = inspect.signature(func).parameters.values()
            except (TypeError, ValueError):
                parameters = ()
            known = any(
                (p.name == "audience" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
                for p in parameters
            )
        _ACCEPTS[key] = known
    return known


def audience_kwargs(network: object, audience: object, method: str = "publish") -> dict[str, Any]:
    """``{"audience": audience}`` when ``network.<method>`` opts in, else ``{}``."""
    return {"audience": audience} if accepts_audience(network, method) else {}


# --- a ledger in memory, for plugin authors' tests ------------------------------------------------


@dataclass
class _Row:
    id: str
    email: str
    name: str
    unsubscribe_url: str
    variant_key: str | None = None
    state: RecipientState = RecipientState.PENDING
    attempts: int = 0
    message_id: str = ""
    code: str = ""
    reason: str = ""


class MemoryLedger:
    """A complete :class:`AudienceLedger` kept in memory: for testing a network without the
    host. It has no durability, so it cannot prove resumption after a kill; the host's ledger
    does (``calendar_app/audiences``)."""

    def __init__(
        self,
        addresses: Sequence[str | tuple[str, str]],
        *,
        audience_id: str = "memory",
        unsubscribe_base: str = "https://kairos.invalid/u/",
    ) -> None:
        self._audience_id = audience_id
        self._rows: list[_Row] = []
        for n, item in enumerate(addresses):
            email, name = (item, "") if isinstance(item, str) else item
            self._rows.append(_Row(str(n), email, name, f"{unsubscribe_base}m{n}/"))
        self._by_id = {row.id: row for row in self._rows}
        self._opened = False
        self.bounced_addresses: list[str] = []

    @property
    def audience_id(self) -> str:
        return self._audience_id

    def open(self) -> LedgerSummary:
        if self._opened:
            for row in self._rows:
                if row.state is RecipientState.SENDING:
                    row.state = RecipientState.IN_DOUBT
        self._opened = True
        return self.summary()

    def unassigned(self) -> Mapping[str, str]:
        return {row.id: row.email for row in self._rows if row.variant_key is None}

    def assign(self, assignment: Mapping[str, Sequence[str]]) -> None:
        for key, ids in assignment.items():
            for rid in ids:
                row = self._by_id[str(rid)]
                if row.variant_key is None:
                    row.variant_key = key

    def pending(self, limit: int, after: str | None = None) -> list[Recipient]:
        start = 0 if after is None else int(after) + 1
        out = []
        for row in self._rows[start:]:
            if row.state in OPEN_STATES:
                out.append(
                    Recipient(
                        row.id,
                        row.email,
                        row.name,
                        row.variant_key or "",
                        row.unsubscribe_url,
                        row.attempts,
                    )
                )
                if len(out) >= limit:
                    break
        return out

    def begin(self, recipient_id: str) -> bool:
        row = self._by_id[recipient_id]
        if row.state not in OPEN_STATES:
            return False
        row.state = RecipientState.SENDING
        return True

    def _set(self, rid: str, state: RecipientState, code: str = "", reason: str = "") -> _Row:
        row = self._by_id[rid]
        row.state, row.code, row.reason = state, code, reason
        return row

    def sent(self, recipient_id: str, message_id: str) -> None:
        self._set(recipient_id, RecipientState.SENT).message_id = message_id

    def bounced(self, recipient_id: str, code: str, reason: str) -> None:
        row = self._set(recipient_id, RecipientState.BOUNCED, code, reason)
        self.bounced_addresses.append(row.email)

    def deferred(self, recipient_id: str, code: str, reason: str) -> None:
        self._set(recipient_id, RecipientState.DEFERRED, code, reason).attempts += 1

    def failed(self, recipient_id: str, code: str, reason: str) -> None:
        self._set(recipient_id, RecipientState.FAILED, code, reason)

    def in_doubt(self, recipient_id: str, reason: str) -> None:
        self._set(recipient_id, RecipientState.IN_DOUBT, "in_doubt", reason)

    def release(self, recipient_id: str) -> None:
        row = self._by_id[recipient_id]
        if row.state is RecipientState.SENDING:
            row.state = RecipientState.PENDING

    def flush(self) -> None:
        return None

    def summary(self) -> LedgerSummary:
        states: dict[str, int] = {}
        per_variant: dict[str, int] = {}
        for row in self._rows:
            states[str(row.state)] = states.get(str(row.state), 0) + 1
            if row.state is RecipientState.SENT and row.variant_key:
                per_variant[row.variant_key] = per_variant.get(row.variant_key, 0) + 1
        return LedgerSummary(self._audience_id, len(self._rows), states, per_variant)

    def state_of(self, email: str) -> RecipientState:
        """Test helper: the state of the recipient with ``email``."""
        return next(row.state for row in self._rows if row.email == email)
