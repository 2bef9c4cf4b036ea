"""``EmailNetwork``: a newsletter to a list Kairos keeps, one SMTP message per subscriber.

The network opts into the host's recipient ledger by taking ``audience`` in ``publish`` and
``fetch_metrics`` (:mod:`publishers.audience`). A send walks the ledger: each recipient is marked
``sending`` (committed) before their message leaves and gets their result after, so a send
interrupted anywhere - a killed worker, a dropped connection, the server's 4xx - is resumed by
the next attempt exactly where it stopped. Nobody gets the newsletter twice, nobody is skipped;
the one message that was on the wire when a worker died is recorded *in doubt* and not resent.

Experiments split per recipient (``per_recipient_split``): each address lands in one arm, by a
hash of the address seeded with the experiment (:func:`publishers.split_recipients`), so a
subscriber keeps the same arm across the experiment's sends; the arm is recorded per recipient
and the delivered counts are returned as ``recipients_per_variant`` (the arms' exposures).

Listening: replies to the newsletter, read from the reply mailbox by IMAP
(:mod:`plugins.email.replies`).

Metrics: ``impressions`` is the number of messages the server accepted. Clicks come from the
host's tracked links in the CTA. Opens are not measured at all: mail clients preload or block
images, so an "open" counts neither people nor attention.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from plugins.email import replies
from plugins.email.message import Parts, build_message, render_parts, send_date, subject_of
from plugins.email.settings import (
    SECRET_FIELDS,
    SETTINGS_SCHEMA,
    EmailSettings,
    SettingsError,
    parse_address,
)
from plugins.email.smtp import InDoubt, NotSent, Session
from publishers import (
    AudienceLedger,
    Capabilities,
    ChannelContext,
    MessagePage,
    MetricSnapshot,
    Network,
    PermanentError,
    Post,
    PostPreview,
    Problem,
    PublicationRef,
    PublisherError,
    PublishResult,
    RecipientState,
    RetryPolicy,
    TransientError,
    ValidationFailed,
    capability_problems,
    split_recipients,
    variant_posts,
)

__all__ = ["EmailNetwork", "Throttle"]

#: Recipients read from the ledger at a time.
PAGE = 500
#: Seconds one attempt sends before it stops and lets the next one continue; keep it well
#: below the worker's task time-out (KAIROS_Q_TIMEOUT, 60 s by default).
DEFAULT_SEND_BUDGET = 40.0


def send_budget() -> float:
    """``KAIROS_EMAIL_SEND_BUDGET`` seconds (an operator setting), else the default."""
    try:
        return max(float(os.environ.get("KAIROS_EMAIL_SEND_BUDGET", DEFAULT_SEND_BUDGET)), 0.0)
    except ValueError:
        return DEFAULT_SEND_BUDGET


#: Seconds before a send with deferred recipients is tried again (at least).
DEFERRAL_DELAY = 300.0


class Throttle:
    """At most ``rate`` messages per second (0: no limit), evenly spaced."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if self.rate <= 0:
            return
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            self._next = at + 1.0 / self.rate
        if at > now:
            time.sleep(at - now)


_throttles: dict[tuple[str, float], Throttle] = {}
_throttles_lock = threading.Lock()


def throttle_for(channel_id: str, rate: float) -> Throttle:
    """One throttle per channel (and rate) in this process, shared by its concurrent sends."""
    with _throttles_lock:
        return _throttles.setdefault((channel_id, rate), Throttle(rate))


def split_seed(post: Post, idempotency_key: str) -> str:
    """The experiment when the post names one (a subscriber keeps their arm), else the key."""
    return f"experiment:{post.experiment_key}" if post.experiment_key else idempotency_key


class EmailNetwork(Network):
    """An email newsletter sent over SMTP to an audience list kept in Kairos."""

    key = "email"
    display_name = "Email newsletter"
    capabilities = Capabilities(
        max_text_length=100_000,
        max_links=50,
        supports_media=False,
        supports_links=True,
        supports_threads=False,
        # The ledger is the idempotency: a retry with the same publication sends only to the
        # recipients who have not been sent to, whenever it comes.
        supports_idempotency_key=True,
        can_find_existing=False,
        can_delete=False,
        metrics=("impressions",),
        per_recipient_split=True,
        listening=("replies",),
    )
    settings_schema = SETTINGS_SCHEMA + replies.IMAP_SETTINGS
    secret_fields = SECRET_FIELDS + replies.IMAP_SECRETS
    retry_policy = RetryPolicy(max_attempts=12, base=60, factor=2, cap=3600)

    # --- validation ----------------------------------------------------------------------------

    def preview(self, post: Post, channel: ChannelContext) -> PostPreview:
        """The subject and the plain-text part every recipient gets (before the footer with
        their own unsubscribe link)."""
        text = render_parts(post, post.cta).text
        return PostPreview(
            text=text,
            length=len(text),
            limit=self.capabilities.max_text_length,
            subject=subject_of(post),
        )

    def validate(self, post: Post, channel: ChannelContext) -> list[Problem]:
        problems = capability_problems(post, self.capabilities)
        problems.extend(EmailSettings.problems(channel))
        problems.extend(replies.ImapSettings.problems(channel.settings, channel.secrets))
        shared = {(p.code, p.field) for p in problems}
        for variant, message in variant_posts(post).items():
            for problem in capability_problems(message, self.capabilities):
                if (problem.code, problem.field) not in shared:
                    problems.append(
                        Problem(problem.code, f"Variant {variant!r}: {problem.message}", "variants")
                    )
        return problems

    def test_connection(self, channel: ChannelContext) -> list[Problem]:
        """EHLO, STARTTLS (or implicit TLS) and AUTH against the server; nothing is sent."""
        try:
            settings = EmailSettings.from_channel(channel)
        except SettingsError as exc:
            return exc.problems
        session = Session(settings)
        try:
            session.connect()
        except (PermanentError, TransientError) as exc:
            return [Problem(exc.code, exc.reason, None)]
        finally:
            session.close()
        return []

    # --- listening ------------------------------------------------------------------------------

    def fetch_replies(
        self, channel: ChannelContext, cursor: str, posts: Sequence[PublicationRef]
    ) -> MessagePage:
        """Replies to ``posts`` from the reply mailbox (IMAP), after ``cursor``."""
        sender = parse_address(channel.settings.get("from_address"))
        domain = sender.domain.lower() if sender is not None else ""
        return replies.fetch_replies(channel, cursor, posts, domain)

    # --- publishing ----------------------------------------------------------------------------

    def publish(
        self,
        post: Post,
        channel: ChannelContext,
        idempotency_key: str,
        *,
        audience: AudienceLedger | None = None,
    ) -> PublishResult:
        try:
            settings = EmailSettings.from_channel(channel)
        except SettingsError as exc:
            raise ValidationFailed(exc.problems) from None
        if audience is None:
            raise PermanentError(
                "This channel's audience list was not found among its brand's lists.",
                code="no_audience",
            )
        summary = audience.open()
        if summary.total == 0:
            raise ValidationFailed(
                [
                    Problem(
                        "empty_audience",
                        "The audience list has no subscribed address to send to.",
                        "settings.audience",
                    )
                ]
            )
        parts = self._parts(post, audience, idempotency_key)
        session = Session(settings)
        try:
            self._walk(post, channel, idempotency_key, settings, audience, parts, session)
        finally:
            session.close()
            audience.flush()
        summary = audience.summary()
        deferred = summary.count(RecipientState.DEFERRED)
        if deferred:
            raise TransientError(
                f"The mail server deferred {deferred} of {summary.total} recipients (4xx); "
                "they get the newsletter on the next attempt, nobody else is sent to again.",
                code="recipients_deferred",
                retry_after=DEFERRAL_DELAY,
                may_have_posted=True,
            )
        return PublishResult(
            external_id=f"email:{idempotency_key}",
            published_at=datetime.now(UTC),
            recipients_per_variant=dict(summary.sent_per_variant) if post.variants else {},
        )

    def _parts(self, post: Post, audience: AudienceLedger, key: str) -> dict[str, Parts]:
        """Assign unassigned recipients to arms, and render each arm's parts once."""
        if not post.variants:
            return {"": render_parts(post, post.cta)}
        todo = audience.unassigned()
        if todo:
            by_address: dict[str, list[str]] = {}
            for rid, address in todo.items():
                by_address.setdefault(address.lower(), []).append(rid)
            split = split_recipients(list(by_address), post.variants, split_seed(post, key))
            audience.assign(
                {
                    arm: [rid for a in addresses for rid in by_address[a]]
                    for arm, addresses in split.items()
                }
            )
        base = post.replace(variants=())
        return {offer.key: render_parts(base, offer.cta) for offer in post.variants}

    def _walk(
        self,
        post: Post,
        channel: ChannelContext,
        key: str,
        settings: EmailSettings,
        audience: AudienceLedger,
        parts: dict[str, Parts],
        session: Session,
    ) -> None:
        throttle = throttle_for(channel.id, settings.rate_per_second)
        deadline = time.monotonic() + send_budget()
        sent_now = 0
        date = send_date()
        list_id = f"<list-{audience.audience_id}.{settings.from_domain}>"
        cursor: str | None = None
        while batch := audience.pending(PAGE, after=cursor):
            for recipient in batch:
                cursor = recipient.id
                if not recipient.unsubscribe_url:
                    raise PermanentError(
                        "Kairos has no public address for unsubscribe links (set "
                        "KAIROS_UNSUBSCRIBE_BASE_URL); a newsletter is never sent without one.",
                        code="no_unsubscribe_url",
                    )
                if sent_now and time.monotonic() > deadline:
                    # A worker's task has a time-out: stop on purpose, well before it, and let
                    # the next attempt continue (it does not count as a failed try).
                    raise TransientError(
                        f"Sent {sent_now} messages in this attempt; the send continues where it "
                        "stopped.",
                        code="send_continues",
                        retry_after=0,
                        progress=True,
                    )
                if not audience.begin(recipient.id):
                    continue
                sent_now += 1
                arm = (
                    parts.get(recipient.variant_key) or parts.get("") or next(iter(parts.values()))
                )
                mid, data = build_message(
                    post=post,
                    parts=arm,
                    recipient=recipient,
                    settings=settings,
                    idempotency_key=key,
                    date=date,
                    list_id=list_id,
                )
                throttle.wait()
                try:
                    reply = session.send(settings.from_address, recipient.email, data)
                except NotSent as exc:
                    audience.release(recipient.id)
                    raise TransientError(
                        "The connection to the SMTP server failed; the send resumes where it "
                        "stopped on the next attempt.",
                        code="connection_failed",
                        detail=str(exc),
                        may_have_posted=True,
                    ) from exc
                except PublisherError:  # connecting failed: nothing was handed over
                    audience.release(recipient.id)
                    raise
                except InDoubt as exc:
                    audience.in_doubt(
                        recipient.id,
                        f"The connection dropped while the message was handed over ({exc}); "
                        "it may have arrived and is not sent again.",
                    )
                    raise TransientError(
                        "The connection to the SMTP server dropped during a message; that one "
                        "recipient is recorded in doubt, the rest resumes on the next attempt.",
                        code="connection_lost",
                        detail=str(exc),
                        may_have_posted=True,
                    ) from exc
                self._record(audience, recipient, reply, mid, settings)

    @staticmethod
    def _record(audience, recipient, reply, mid: str, settings: EmailSettings) -> None:
        reason = f"{reply.code} {reply.text}".strip()
        if reply.outcome == "sent":
            audience.sent(recipient.id, mid)
        elif reply.outcome == "bounced":
            audience.bounced(recipient.id, f"smtp_{reply.code}", reason)
        elif reply.outcome == "deferred":
            if recipient.attempts + 1 >= settings.max_deferrals:
                audience.failed(
                    recipient.id,
                    "deferred_too_often",
                    f"Deferred {recipient.attempts + 1} times; given up. Last: {reason}",
                )
            else:
                audience.deferred(recipient.id, f"smtp_{reply.code}", reason)
        else:
            audience.failed(recipient.id, f"smtp_{reply.code}", reason)

    # --- metrics -------------------------------------------------------------------------------

    def fetch_metrics(
        self,
        ref: PublicationRef,
        channel: ChannelContext,
        *,
        audience: AudienceLedger | None = None,
    ) -> MetricSnapshot:
        """Impressions = messages the server accepted. Clicks are the host's tracked links;
        opens are never counted."""
        if audience is None:
            return MetricSnapshot()
        return MetricSnapshot(impressions=audience.summary().count(RecipientState.SENT))
