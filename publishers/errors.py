"""Errors that say what Kairos should do next.

Delivery errors (raised by networks) all derive from :class:`PublisherError` and carry a stable
machine ``code``, a ``reason`` a marketer can act on and a ``detail`` for developers. The pipeline
(:func:`publishers.pipeline.deliver`) is the only place that turns them into decisions:

* :class:`TransientError` - try again later with back-off (``retry_after`` is a floor);
* :class:`PermanentError` - fail the publication with ``reason``, no retry;
* :class:`ValidationFailed` - a permanent error raised before anything was sent;
* :class:`CredentialsExpired` - mark the channel expired; the person must reconnect it.

Framework errors (:class:`PluginLoadError`, :class:`DuplicateNetworkError`,
:class:`UnknownNetworkError`, :class:`InvalidNetworkError`) describe a broken installation rather
than a failed delivery; they name the plugin at fault.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from publishers.values import Problem

__all__ = [
    "CredentialsExpired",
    "DuplicateNetworkError",
    "FrameworkError",
    "InvalidNetworkError",
    "PermanentError",
    "PluginLoadError",
    "PublisherError",
    "TransientError",
    "UnknownNetworkError",
    "ValidationFailed",
    "excerpt",
    "redact",
    "truncate",
]

#: Longest ``detail`` or ``reason`` kept on an error. Details quote what a remote server answered,
#: and a delivery log must not become a way to read an internal page through a URL someone typed
#: (server-side request forgery): enough to read an error message, too little to exfiltrate a page.
MAX_DETAIL = 300
_REDACTED = "[redacted]"
_TAG = re.compile(r"<[^<>]{0,500}>")
#: C0/C1 controls and the invisible or direction-changing characters that make a log line lie.
_INVISIBLE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
)
_SPACE = re.compile(r"\s+")


def truncate(text: object, limit: int = MAX_DETAIL) -> str:
    """Return ``text`` as a string of at most ``limit`` characters, marking the cut."""
    if isinstance(text, bytes):
        value = text.decode("utf-8", errors="replace")
    else:
        value = text if isinstance(text, str) else str(text)
    if len(value) <= limit:
        return value
    return value[: max(limit - 15, 0)] + "… [truncated]"


def excerpt(text: object, limit: int = MAX_DETAIL) -> str:
    """A short, sanitised excerpt of something a remote server said, safe to store and show.

    Markup tags are dropped (an HTML error page reads as its words), control, invisible and
    bidirectional characters removed, whitespace collapsed to single spaces, and the result cut
    to ``limit`` characters. Only a bounded prefix is looked at, so a huge answer costs little.
    """
    value = truncate(text, limit * 20)
    value = _TAG.sub(" ", value)
    value = _INVISIBLE.sub("", value)
    value = _SPACE.sub(" ", value).strip()
    return truncate(value, limit)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret (4 characters or longer) in ``text``.

    Shorter values are skipped: redacting ``"a"`` would mangle the whole message while
    protecting nothing worth protecting.
    """
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, _REDACTED)
    return text


class PublisherError(Exception):
    """Base of delivery errors raised by networks.

    :param reason: a sentence for the marketer ("The network refused the post: too many links.").
    :param code: stable snake_case code; defaults to the class's ``default_code``.
    :param detail: developer detail, e.g. the response body; kept as a sanitised
        :func:`excerpt` of at most ``MAX_DETAIL`` characters.
        Never put credentials here: the pipeline redacts the channel's secrets, but headers
        you built yourself (``Authorization``) are your responsibility.
    """

    default_code = "publisher_error"
    default_reason = "The network could not take the post."

    def __init__(
        self, reason: str | None = None, *, code: str | None = None, detail: object = ""
    ) -> None:
        self.reason = excerpt(reason) if reason else self.default_reason
        self.code = code or self.default_code
        self.detail = excerpt(detail) if detail else ""
        super().__init__(self.reason)

    def __str__(self) -> str:
        return f"[{self.code}] {self.reason}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r})"


class TransientError(PublisherError):
    """The attempt failed but may succeed later: time-outs, 5xx, rate limits.

    :param retry_after: seconds the network asked us to wait (``Retry-After``); the back-off
        never waits less than this.
    :param may_have_posted: the request may have reached the network before it failed (a read
        time-out after sending). Kairos then retries only when the network deduplicates by
        idempotency key or can find the earlier post; otherwise the publication becomes
        *unconfirmed* and waits for a person, because a blind retry could post twice.
    :param progress: the attempt got part of the way and stopped on purpose (a long send that
        reached its time budget and continues in the next attempt). Such an attempt does not
        count against the retry budget: a list of 100,000 must not run out of attempts.
    """

    default_code = "transient"
    default_reason = "The network is not answering right now."

    def __init__(
        self,
        reason: str | None = None,
        *,
        code: str | None = None,
        detail: object = "",
        retry_after: float | None = None,
        may_have_posted: bool = False,
        progress: bool = False,
    ) -> None:
        super().__init__(reason, code=code, detail=detail)
        if retry_after is not None:
            retry_after = max(float(retry_after), 0.0)
        self.retry_after = retry_after
        self.may_have_posted = bool(may_have_posted)
        self.progress = bool(progress)


class PermanentError(PublisherError):
    """The network refused the post for a reason a retry cannot fix (4xx, content refused)."""

    default_code = "permanent"
    default_reason = "The network refused the post."


class ValidationFailed(PermanentError):
    """The post breaks the network's rules or a plugin's; raised before anything is sent."""

    default_code = "validation_failed"

    def __init__(
        self,
        problems: Sequence[Problem],
        reason: str | None = None,
        *,
        code: str | None = None,
        detail: object = "",
    ) -> None:
        self.problems = tuple(problems)
        if reason is None:
            reason = "; ".join(p.message for p in self.problems) or "The post is not valid."
        super().__init__(reason, code=code, detail=detail)


class CredentialsExpired(PermanentError):
    """The channel's credentials were refused (revoked, expired): reconnect the channel."""

    default_code = "credentials_expired"
    default_reason = "The network refused the channel's credentials; reconnect the channel."


class FrameworkError(Exception):
    """Base of errors about the installation itself, with a stable ``code``."""

    code = "framework_error"

    @property
    def reason(self) -> str:
        return str(self)


class PluginLoadError(FrameworkError):
    """A plugin could not be imported, registered or checked.

    :param plugin: the plugin (entry point) name.
    :param message: what went wrong.
    :param distribution: the distribution that declared the entry point, when known.
    :param entry_point: the entry point's value (``package.module``), when known.
    """

    code = "plugin_load_error"

    def __init__(
        self,
        plugin: str,
        message: str,
        *,
        distribution: str | None = None,
        entry_point: str | None = None,
    ) -> None:
        self.plugin = plugin
        self.distribution = distribution
        self.entry_point = entry_point
        where = f"plugin {plugin!r}"
        if entry_point:
            where += f" (entry point {plugin} = {entry_point!r}"
            where += f" from distribution {distribution!r})" if distribution else ")"
        super().__init__(f"{where}: {message}")


class DuplicateNetworkError(FrameworkError):
    """Two plugins provide the same network key; naming both lets the operator pick one."""

    code = "duplicate_network"

    def __init__(self, key: str, first_plugin: str, second_plugin: str) -> None:
        self.key = key
        self.plugins = (first_plugin, second_plugin)
        super().__init__(
            f"network {key!r} is provided by both plugin {first_plugin!r} and plugin "
            f"{second_plugin!r}; disable one of them"
        )


class UnknownNetworkError(FrameworkError, LookupError):
    """A channel points at a network no installed plugin provides."""

    code = "unknown_network"

    def __init__(self, key: str, available: Iterable[str] = ()) -> None:
        self.key = key
        self.available = tuple(sorted(available))
        known = ", ".join(self.available) or "none"
        super().__init__(f"no installed plugin provides network {key!r} (installed: {known})")


class InvalidNetworkError(FrameworkError):
    """A plugin registered something that does not keep the :class:`Network` contract."""

    code = "invalid_network"

    def __init__(self, plugin: str, message: str) -> None:
        self.plugin = plugin
        super().__init__(f"plugin {plugin!r} registered an invalid network: {message}")
