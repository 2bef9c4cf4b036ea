"""Replies to a newsletter, read back from the reply mailbox by IMAP.

A subscriber who answers a newsletter writes to its ``Reply-To`` (or ``From``) address. Kairos
reads that mailbox (settings ``imap_*``), read-only and without marking anything as read, and
keeps a message as a **reply** when its ``In-Reply-To`` or ``References`` names the
``Message-ID`` Kairos gave that subscriber's copy of one of the channel's recent newsletters.
That id depends only on the publication and the address (:func:`plugins.email.message.message_id`),
so it is recomputed from the sender's address: nothing is stored per recipient, and a message
from another address, an unrelated message or an automatic answer (``Auto-Submitted``, RFC 3834:
out-of-office, bounces) is not a reply.

Why IMAP rather than an inbound webhook: every mail provider offers IMAP on the mailbox a brand
already has, while inbound webhooks differ per provider and need a public URL; IMAP's
``UIDVALIDITY`` and ``UID`` make a cursor that cannot skip a message.

**The cursor** is ``<UIDVALIDITY>:<last UID read>``. A mailbox whose ``UIDVALIDITY`` changed
(recreated, restored) makes the cursor stale: the host reads it again from the start and keeps
each message once (by its ``Message-ID``).

The text kept is what the subscriber wrote: the plain-text part (else the HTML one, as text),
without the quoted newsletter below "On ... wrote:" and without ``>`` lines.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import html
import imaplib
import re
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from plugins.email.message import message_id
from plugins.email.smtp import resolve_host
from publishers import (
    ChannelContext,
    InboundMessage,
    MessagePage,
    PermanentError,
    Problem,
    PublicationRef,
    SettingField,
    StaleCursor,
    TransientError,
    messages_from,
)

__all__ = ["IMAP_SECRETS", "IMAP_SETTINGS", "ImapSettings", "fetch_replies", "reply_text"]

NETWORK_KEY = "email"
IMAP_MODES = ("tls", "starttls", "none")
IMAP_PORTS = {"tls": 993, "starttls": 143, "none": 143}
#: Messages read per call; the host calls again at once while there are more.
PAGE = 100

IMAP_SETTINGS = (
    SettingField(
        "imap_host",
        "Reply mailbox: IMAP host",
        "Where replies to the newsletter arrive (the Reply-To's mailbox); empty: replies are "
        "not read.",
    ),
    SettingField(
        "imap_port", "Reply mailbox: IMAP port", "Empty: 993 for tls, 143 otherwise.", "integer"
    ),
    SettingField(
        "imap_security",
        "Reply mailbox: security",
        "tls (port 993), starttls (port 143) or none (only on a trusted network).",
        default="tls",
    ),
    SettingField("imap_username", "Reply mailbox: user name", "The mailbox's login."),
    SettingField("imap_mailbox", "Reply mailbox: folder", "Default: INBOX.", default="INBOX"),
)
IMAP_SECRETS = (
    SettingField("imap_password", "Reply mailbox: password", "The mailbox's password.", "secret"),
)


@dataclass(frozen=True, slots=True)
class ImapSettings:
    host: str
    port: int
    security: str
    username: str
    password: str
    mailbox: str
    timeout: float

    @classmethod
    def problems(cls, settings: Mapping[str, Any], secrets: Mapping[str, Any]) -> list[Problem]:
        """What is wrong with the reply mailbox's settings (none when it is not set)."""
        host = settings.get("imap_host")
        if not host:
            return []
        problems = []
        if not isinstance(host, str) or any(c in host for c in " /\r\n"):
            problems.append(Problem("invalid_setting", "Not a host name.", "settings.imap_host"))
        if (settings.get("imap_security") or "tls") not in IMAP_MODES:
            problems.append(
                Problem(
                    "invalid_setting",
                    f"Must be one of {', '.join(IMAP_MODES)}.",
                    "settings.imap_security",
                )
            )
        port = settings.get("imap_port")
        if port not in (None, "") and (
            isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536
        ):
            problems.append(Problem("invalid_setting", "Not a TCP port.", "settings.imap_port"))
        if not settings.get("imap_username") or not secrets.get("imap_password"):
            problems.append(
                Problem(
                    "missing_secret",
                    "Set the reply mailbox's user name and password.",
                    "secrets.imap_password",
                )
            )
        return problems

    @classmethod
    def from_channel(cls, channel: ChannelContext) -> ImapSettings:
        s, secrets = channel.settings, channel.secrets
        if not s.get("imap_host"):
            raise PermanentError(
                "No reply mailbox is set: give the channel's IMAP settings to read replies.",
                code="not_configured",
            )
        problems = cls.problems(s, secrets)
        if problems:
            raise PermanentError(problems[0].message, code=problems[0].code)
        security = str(s.get("imap_security") or "tls")
        timeout = s.get("timeout")
        return cls(
            host=str(s["imap_host"]).strip(),
            port=int(s.get("imap_port") or IMAP_PORTS[security]),
            security=security,
            username=str(s["imap_username"]),
            password=str(secrets["imap_password"]),
            mailbox=str(s.get("imap_mailbox") or "INBOX"),
            timeout=float(timeout) if isinstance(timeout, int | float) and timeout > 0 else 30.0,
        )


def _address(settings: ImapSettings) -> str:
    """The address to connect to, checked against private ranges like the SMTP server's."""
    return resolve_host(settings.host, settings.port, "IMAP")


class _Imap(imaplib.IMAP4):
    """Connects to a checked address, keeping the host name for STARTTLS."""

    pinned = ""

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return socket.create_connection((self.pinned, self.port), timeout)


class _ImapTls(imaplib.IMAP4_SSL):
    pinned = ""

    def _create_socket(self, timeout: float | None) -> socket.socket:
        raw = socket.create_connection((self.pinned, self.port), timeout)
        return self.ssl_context.wrap_socket(raw, server_hostname=self.host)


def _connect(settings: ImapSettings) -> imaplib.IMAP4:
    address = _address(settings)
    try:
        # A class per connection: imaplib connects in its constructor, and threads share classes.
        if settings.security == "tls":
            tls = type("_PinnedTls", (_ImapTls,), {"pinned": address})
            conn: imaplib.IMAP4 = tls(
                settings.host,
                settings.port,
                ssl_context=ssl.create_default_context(),
                timeout=settings.timeout,
            )
        else:
            plain = type("_Pinned", (_Imap,), {"pinned": address})
            conn = plain(settings.host, settings.port, timeout=settings.timeout)
            if settings.security == "starttls":
                conn.starttls(ssl.create_default_context())
    except (OSError, imaplib.IMAP4.error) as exc:
        raise TransientError(
            f"Could not reach the reply mailbox ({settings.host}): {exc}", code="imap_unreachable"
        ) from exc
    try:
        conn.login(settings.username, settings.password)
    except imaplib.IMAP4.error as exc:
        _close(conn)
        raise PermanentError(
            "The reply mailbox refused the user name or password.",
            code="imap_login_refused",
            detail=str(exc)[:300],
        ) from exc
    return conn


def _close(conn: imaplib.IMAP4) -> None:
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        conn.logout()


_QUOTE_HEAD = re.compile(
    r"^\s*(On .{0,200} wrote:|Le .{0,200} a écrit\s?:|-----Original Message-----)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_TAG = re.compile(r"<[^>]+>")


def reply_text(message: EmailMessage) -> str:
    """What the subscriber wrote, without the newsletter quoted below it."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = part.get_content()
    if not isinstance(text, str):
        return ""
    if part.get_content_type() == "text/html":
        text = html.unescape(_TAG.sub("", re.sub(r"<br\s*/?>|</p>", "\n", text, flags=re.I)))
    head = _QUOTE_HEAD.search(text)
    if head:
        text = text[: head.start()]
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip()


def _ids(value: str | None) -> list[str]:
    return re.findall(r"<[^<>\s]+>", value or "")


def _answered(
    message: EmailMessage, posts: Sequence[PublicationRef], domain: str
) -> tuple[PublicationRef, str, str] | None:
    """``(post, sender, display name)`` when ``message`` answers one of ``posts``."""
    senders = getaddresses([str(message.get("From") or "")])
    if not senders or not senders[0][1]:
        return None
    name, sender = senders[0]
    cited = set(_ids(message.get("In-Reply-To"))) | set(_ids(message.get("References")))
    for ref in posts:
        if ref.idempotency_key and message_id(ref.idempotency_key, sender, domain) in cited:
            return ref, sender, name
    return None


def _automatic(message: EmailMessage) -> bool:
    auto = str(message.get("Auto-Submitted") or "no").strip().lower()
    return auto != "no" or str(message.get("Precedence") or "").lower() in ("bulk", "junk")


def _to_message(
    uidvalidity: str, uid: int, raw: bytes, posts: Sequence[PublicationRef], domain: str
) -> InboundMessage | None:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or _automatic(message):
        return None
    found = _answered(message, posts, domain)
    if found is None:
        return None
    ref, sender, name = found
    try:
        when = parsedate_to_datetime(str(message.get("Date")))
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    except (TypeError, ValueError):
        when = datetime.now(UTC)  # no readable date: when Kairos read it
    mids = _ids(message.get("Message-ID"))
    language = str(message.get("Content-Language") or "").split(",")[0].strip()
    return InboundMessage(
        network_id=mids[0] if mids else f"imap:{uidvalidity}:{uid}",
        text=reply_text(message),
        author_handle=sender,
        author_name=name,
        language=language,
        published_at=when,
        in_reply_to=ref.external_id,
        extra={"reply_address": sender},
    )


def _cursor(cursor: str) -> tuple[str, int]:
    if not cursor:
        return "", 0
    validity, _, last = cursor.partition(":")
    if not validity.isdigit() or not last.isdigit():
        raise StaleCursor("The reply mailbox cursor is not <UIDVALIDITY>:<UID>.")
    return validity, int(last)


def fetch_replies(
    channel: ChannelContext, cursor: str, posts: Sequence[PublicationRef], domain: str
) -> MessagePage:
    """The replies to ``posts`` that arrived in the reply mailbox after ``cursor``."""
    settings = ImapSettings.from_channel(channel)
    validity, last = _cursor(cursor)
    conn = _connect(settings)
    try:
        status, _ = conn.select(_quoted(settings.mailbox), readonly=True)
        if status != "OK":
            raise PermanentError(
                f"The reply mailbox has no folder {settings.mailbox!r}.", code="imap_no_folder"
            )
        current = str((conn.response("UIDVALIDITY")[1] or [b""])[0] or b"", "ascii", "replace")
        if validity and current != validity:
            raise StaleCursor("The reply mailbox was recreated (its UIDVALIDITY changed).")
        status, found = conn.uid("SEARCH", None, "UID", f"{last + 1}:*")
        # "N:*" always holds the highest UID, even one below N: keep only the new ones.
        uids = sorted(int(u) for u in (found[0] or b"").split() if int(u) > last)
        batch, more = uids[:PAGE], len(uids) > PAGE
        raws: list[tuple[int, bytes]] = []
        if batch:
            status, data = conn.uid("FETCH", ",".join(map(str, batch)), "(UID BODY.PEEK[])")
            for item in data or []:
                if isinstance(item, tuple) and len(item) == 2:
                    match = re.search(rb"UID (\d+)", item[0])
                    if match:
                        raws.append((int(match[1]), item[1]))
    except (OSError, imaplib.IMAP4.abort) as exc:
        raise TransientError(
            f"The reply mailbox connection failed: {exc}", code="imap_unreachable"
        ) from exc
    except imaplib.IMAP4.error as exc:
        raise PermanentError(
            f"The reply mailbox refused a command: {exc}", code="imap_refused"
        ) from exc
    finally:
        _close(conn)
    messages, skipped = messages_from(
        (pair for pair in sorted(raws)),
        lambda pair: _to_message(current, pair[0], pair[1], posts, domain),
    )
    next_cursor = f"{current}:{batch[-1]}" if batch else f"{current}:{last}"
    return MessagePage(tuple(messages), next_cursor, more=more, skipped=skipped)


def _quoted(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'
