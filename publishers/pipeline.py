"""One delivery attempt, and the only place where exceptions are classified.

:func:`deliver` renders the post (placeholders, CTA, UTM), runs the transforms, validates it,
optionally reconciles with the network, publishes, and turns whatever happened into an
:class:`Outcome` that tells the host exactly what to do next. It never raises for a delivery
problem, never retries by itself and never notifies: the host records the outcome, commits, then
calls the ``notify_*`` methods of :class:`~publishers.KairosPlugins` and, for ``retry``, asks
:func:`publishers.retry.next_delay` when to come back.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from publishers.audience import audience_kwargs
from publishers.errors import (
    CredentialsExpired,
    PermanentError,
    PublisherError,
    TransientError,
    UnknownNetworkError,
    ValidationFailed,
    excerpt,
    redact,
    truncate,
)
from publishers.manager import KairosPlugins
from publishers.media import fetch_media
from publishers.network import Network, opted_in
from publishers.progress import Checkpoint, DeliveryProgress, MediaLoader, MemoryProgress
from publishers.ratelimit import RateLimit, observing
from publishers.rendering import render_post
from publishers.values import ChannelContext, Post, Problem, PublishResult, ReplyTarget

__all__ = ["Outcome", "Status", "deliver"]

logger = logging.getLogger("kairos.delivery")


class Status(enum.StrEnum):
    """What happened, and therefore what the host does next."""

    #: The post is out (``Outcome.result``); or was found out there already (``reconciled``).
    PUBLISHED = "published"
    #: Try again after back-off; ``retry_after`` is the network's floor.
    RETRY = "retry"
    #: Fail the publication with ``code`` and ``reason``; no retry.
    FAILED = "failed"
    #: Mark the channel expired; fail with "reconnect the channel".
    CREDENTIALS_EXPIRED = "credentials_expired"
    #: The request may have been posted and cannot be checked: a person must look. No retry.
    UNCONFIRMED = "unconfirmed"
    #: A plugin bug (an unexpected exception, logged with its traceback). Never retried
    #: automatically: a plugin that crashes after posting would otherwise post twice.
    PLUGIN_ERROR = "plugin_error"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The classified result of one attempt.

    :ivar status: see :class:`Status`.
    :ivar result: the network's result when ``published``.
    :ivar code: stable machine code of the failure (``""`` when published).
    :ivar reason: a sentence for the marketer, secrets redacted.
    :ivar detail: developer detail (truncated, secrets redacted).
    :ivar retry_after: floor for the next delay, when ``retry``.
    :ivar reconcile_next: pass ``reconcile=True`` on the next attempt (the last one may have
        posted, and the network can be searched).
    :ivar reconciled: ``published`` because ``find_existing`` found an earlier post.
    :ivar problems: validation problems when the post was refused before sending.
    :ivar post: the post as sent, or as it would have been (after rendering and transforms).
    :ivar error: the classified error, for ``notify_failed`` / ``notify_unconfirmed``.
    :ivar elapsed: seconds the attempt took.
    :ivar parts: every part of a thread that is out, in order, including those posted by
        earlier attempts (one entry for a post that is not a thread, once published).
    :ivar rate_limit: the last budget the network announced during the attempt, if any.
    """

    status: Status
    result: PublishResult | None = None
    code: str = ""
    reason: str = ""
    detail: str = ""
    retry_after: float | None = None
    reconcile_next: bool = False
    reconciled: bool = False
    problems: tuple[Problem, ...] = ()
    post: Post | None = None
    error: PublisherError | None = None
    elapsed: float = 0.0
    parts: tuple[PublishResult, ...] = ()
    rate_limit: RateLimit | None = None

    @property
    def published(self) -> bool:
        return self.status is Status.PUBLISHED

    @property
    def final(self) -> bool:
        """No automatic attempt follows (everything except ``retry``)."""
        return self.status is not Status.RETRY


class _Attempt:
    """Book-keeping for one attempt: the stage reached and the post so far."""

    def __init__(self, channel: ChannelContext, post: Post, progress: DeliveryProgress) -> None:
        self.channel = channel
        self.post = post
        self.progress = progress
        self.stage = "lookup"
        self.started = time.monotonic()
        self.parts: list[PublishResult] = []
        self.reconciled = False
        self.first_attempt_at: datetime | None = None

    def outcome(self, status: Status, **fields: object) -> Outcome:
        count = 1 + len(self.post.thread)
        if status is not Status.PUBLISHED and self.parts and count > 1:
            # Say what is already out: a person deciding what to do needs to know.
            out = len(self.parts)
            fields["reason"] = (
                f"Parts 1-{out} of {count} of the thread are out; the rest is not. "
                f"{fields.get('reason', '')}"
            ).strip()
        return Outcome(
            status,
            post=self.post,
            elapsed=time.monotonic() - self.started,
            parts=tuple(self.parts),
            **fields,  # type: ignore[arg-type]
        )

    def scrub(self, error: PublisherError) -> PublisherError:
        secrets = self.channel.secret_values()
        # A plugin may have set these after construction: sanitise again, whatever it did.
        error.reason = excerpt(redact(error.reason, secrets)) or type(error).default_reason
        error.detail = excerpt(redact(error.detail, secrets))
        return error


def deliver(
    plugins: KairosPlugins,
    post: Post,
    channel: ChannelContext,
    idempotency_key: str,
    *,
    reconcile: bool = False,
    values: Mapping[str, object] | None = None,
    render: bool = True,
    progress: DeliveryProgress | None = None,
    load_media: MediaLoader | None = None,
    audience: object | None = None,
    first_attempt_at: datetime | None = None,
) -> Outcome:
    """Make one delivery attempt of ``post`` to ``channel``.

    :param plugins: the plugin facade (networks, transforms, hooks).
    :param post: the post, placeholders still in it.
    :param channel: the target channel; its ``network`` key selects the network.
    :param idempotency_key: the publication's key, the same for every attempt.
    :param reconcile: ask the network first whether a post with this key already exists
        (after a crash, or when the previous outcome had ``reconcile_next``); only used when the
        network ``can_find_existing``.
    :param values: placeholder values supplied by the caller (a reactive template's fire).
    :param render: render placeholders, UTM tags and the CTA; ``False`` when ``post`` is
        already rendered.
    :param progress: what earlier attempts did (thread parts posted, media uploaded), kept by
        the host; each step is recorded there before the next network call. ``None`` keeps it
        for this attempt only.
    :param load_media: reads a medium's bytes for networks that upload; default: fetch
        ``media.url`` (:func:`publishers.media.fetch_media`).
    :param first_attempt_at: when the publication's first attempt started, handed to a
        ``find_existing`` that searches by content (see :meth:`Network.find_existing`).
    :param audience: the host's recipient ledger (:mod:`publishers.audience`), passed on to
        networks whose ``publish`` opts in by taking ``audience``; ignored by the others.
    :returns: the :class:`Outcome`. Never raises for anything a plugin does (only for
        ``BaseException`` such as ``KeyboardInterrupt``).
    """
    attempt = _Attempt(channel, post, progress or MemoryProgress())
    attempt.first_attempt_at = first_attempt_at
    try:
        network = plugins.network(channel.network)
    except UnknownNetworkError as exc:
        return attempt.outcome(
            Status.FAILED,
            code=exc.code,
            reason=f"This channel's network {exc.key!r} is not installed.",
            detail=str(exc),
            error=PermanentError(str(exc), code=exc.code),
        )
    with observing() as readings:
        outcome = _guarded(
            plugins,
            network,
            attempt,
            idempotency_key,
            reconcile,
            values,
            render,
            load_media,
            audience,
        )
    if readings:
        outcome = dataclasses.replace(outcome, rate_limit=readings[-1])
    return outcome


def _guarded(
    plugins: KairosPlugins,
    network: Network,
    attempt: _Attempt,
    idempotency_key: str,
    reconcile: bool,
    values: Mapping[str, object] | None,
    render: bool,
    load_media: MediaLoader | None,
    audience: object | None,
) -> Outcome:
    try:
        return _attempt(
            plugins,
            network,
            attempt,
            idempotency_key,
            reconcile,
            values,
            render,
            load_media,
            audience,
        )
    except PublisherError as exc:
        return _classify(attempt.scrub(exc), network, attempt, reconcile)
    except Exception as exc:
        return _plugin_error(exc, network, attempt)


def _attempt(
    plugins: KairosPlugins,
    network: Network,
    attempt: _Attempt,
    key: str,
    reconcile: bool,
    values: Mapping[str, object] | None,
    render: bool,
    load_media: MediaLoader | None,
    audience: object | None = None,
) -> Outcome:
    channel = attempt.channel
    if render:
        attempt.stage = "rendering"
        original = attempt.post
        rendered = render_post(
            original,
            channel,
            values=values,
            resolver=lambda name: plugins.resolve_placeholder(
                name=name, post=original, channel=channel
            ),
        )
        attempt.post = rendered.post
        if rendered.problems:
            raise ValidationFailed(rendered.problems)
    for transform in plugins.transforms():
        attempt.stage = f"transform {transform.name!r}"
        transformed = transform.apply(attempt.post, channel)
        if not isinstance(transformed, Post):
            raise TypeError(f"transform {transform.name!r} returned {transformed!r}, not a Post")
        attempt.post = transformed
    attempt.stage = "validation"
    problems = plugins.validate(attempt.post, channel, network)
    if attempt.post.variants and not network.capabilities.per_recipient_split:
        # The arms would be silently dropped: only per-recipient networks can honour them.
        problems = [
            *problems,
            Problem(
                "variants_not_supported",
                f"{network.display_name} cannot split one post between variants; "
                "each variant needs its own publication.",
                "variants",
            ),
        ]
    if problems:
        raise ValidationFailed(problems)
    parts = attempt.post.parts()
    progress = attempt.progress
    first_pending = True
    for planned in parts:
        index = planned.part_index
        done = progress.part(index)
        if done is not None:
            attempt.parts.append(done)
            # Out already: known from the host's own record, without asking the network.
            attempt.reconciled = attempt.reconciled or index == len(parts) - 1
            continue
        part_key = key if index == 0 else f"{key}.{index + 1}"
        part = (
            planned.replace(reply_to=ReplyTarget(root=attempt.parts[0], parent=attempt.parts[-1]))
            if index
            else planned
        )
        # Only the part in flight when the last attempt ended can have gone out unseen.
        if reconcile and first_pending:
            found = _reconcile(network, attempt, part, part_key, index, len(parts))
            if isinstance(found, Outcome):
                return found
            if found is not None:
                progress.record_part(index, found)
                attempt.parts.append(found)
                first_pending = False
                continue
        first_pending = False
        part = _with_uploads(network, attempt, part, load_media)
        attempt.stage = "publish" if len(parts) == 1 else f"publish (part {index + 1})"
        kwargs = audience_kwargs(network, audience)
        if opted_in(network, "publish", ("checkpoint",)):
            kwargs["checkpoint"] = Checkpoint(progress, index)
        result = network.publish(part, channel, part_key, **kwargs)
        _check_result(result, "publish")
        progress.record_part(index, result)
        attempt.parts.append(result)
    return attempt.outcome(Status.PUBLISHED, result=attempt.parts[0], reconciled=attempt.reconciled)


def _reconcile(
    network: Network, attempt: _Attempt, part: Post, key: str, index: int, count: int
) -> PublishResult | Outcome | None:
    """Ask the network whether the part under ``key`` is already out: its result, an outcome
    that stops the attempt (nothing can tell), or ``None`` (not out: send it)."""
    if network.capabilities.can_find_existing:
        attempt.stage = "find_existing"
        offered = {"post": part, "first_attempt_at": attempt.first_attempt_at}
        extra = {name: offered[name] for name in opted_in(network, "find_existing", tuple(offered))}
        existing = network.find_existing(key, attempt.channel, **extra)
        if existing is not None:
            _check_result(existing, "find_existing")
            attempt.reconciled = True
        return existing
    if network.capabilities.supports_idempotency_key:
        return None
    # The last attempt may have posted and nothing can tell: sending again could post twice.
    which = "" if count == 1 else f" (part {index + 1} of the thread)"
    reason = (
        f"An earlier attempt{which} may have reached {network.display_name}, which can neither "
        "recognise a repeated post nor be searched; check the channel before retrying."
    )
    return attempt.outcome(
        Status.UNCONFIRMED,
        code="cannot_reconcile",
        reason=reason,
        error=TransientError(reason, code="cannot_reconcile", may_have_posted=True),
    )


def _with_uploads(
    network: Network, attempt: _Attempt, part: Post, load_media: MediaLoader | None
) -> Post:
    """``part`` with every medium uploaded (or found uploaded by an earlier attempt), when the
    network takes uploads; unchanged for networks that attach media by URL."""
    if not part.media or not _overrides_upload(network):
        return part
    uploaded = []
    for position, planned in enumerate(part.media):
        medium = planned if planned.key else planned.replace(key=f"{part.part_index}.{position}")
        media_key = medium.key
        network_id = attempt.progress.uploaded(media_key)
        if not network_id:
            attempt.stage = f"upload_media ({medium.name or medium.url})"
            content = (
                load_media(medium)
                if load_media is not None
                else fetch_media(
                    medium,
                    network=network.key,
                    max_bytes=network.capabilities_for(attempt.channel).max_media_bytes,
                )
            )
            network_id = network.upload_media(medium, content, attempt.channel)
            if not isinstance(network_id, str) or not network_id:
                raise TypeError(
                    f"upload_media() returned {network_id!r}, not the network's id for the medium"
                )
            attempt.progress.record_upload(media_key, network_id)
        uploaded.append(medium.replace(key=media_key, network_id=network_id))
    return part.replace(media=tuple(uploaded))


def _overrides_upload(network: Network) -> bool:
    return type(network).upload_media is not Network.upload_media


def _check_result(result: object, method: str) -> None:
    if not isinstance(result, PublishResult):
        raise TypeError(f"{method}() returned {result!r}, not a publishers.PublishResult")


def _classify(
    error: PublisherError, network: Network, attempt: _Attempt, reconcile: bool
) -> Outcome:
    fields = {"code": error.code, "reason": error.reason, "detail": error.detail, "error": error}
    caps = network.capabilities
    if isinstance(error, ValidationFailed):
        return attempt.outcome(Status.FAILED, problems=error.problems, **fields)
    if isinstance(error, CredentialsExpired):
        return attempt.outcome(Status.CREDENTIALS_EXPIRED, **fields)
    if isinstance(error, TransientError):
        safe = caps.supports_idempotency_key or caps.can_find_existing
        if error.may_have_posted and not safe:
            fields["reason"] = (
                f"{network.display_name} did not confirm the post and it may have gone out; "
                "check the channel before retrying."
            )
            return attempt.outcome(Status.UNCONFIRMED, **fields)
        return attempt.outcome(
            Status.RETRY,
            retry_after=error.retry_after,
            reconcile_next=(error.may_have_posted or reconcile) and caps.can_find_existing,
            **fields,
        )
    return attempt.outcome(Status.FAILED, **fields)


def _plugin_error(exc: Exception, network: Network, attempt: _Attempt) -> Outcome:
    logger.exception(
        "network %r raised %s during %s; failing the attempt as plugin_error",
        network.key,
        type(exc).__name__,
        attempt.stage,
    )
    secrets: Sequence[str] = attempt.channel.secret_values()
    detail = excerpt(redact(truncate(f"{type(exc).__name__}: {exc}"), secrets))
    reason = (
        f"A plugin failed unexpectedly during {attempt.stage} for {network.display_name}. "
        "It will not be retried automatically; ask a developer to check the logs."
    )
    error = PermanentError(reason, code="plugin_error", detail=detail)
    return attempt.outcome(
        Status.PLUGIN_ERROR, code="plugin_error", reason=reason, detail=detail, error=error
    )
