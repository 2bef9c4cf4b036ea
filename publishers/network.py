"""The :class:`Network` contract: what a plugin implements to deliver posts to one kind of
destination.

Networks are *registered* (through the ``register_networks`` hook) and then called directly by
the pipeline, looked up by key. There is no "every plugin answers every publish" dispatch, so one
missing guard cannot make a plugin take over another network's deliveries.

The required methods are abstract, so a half-written network fails when it is instantiated at
registration, not at the first delivery. Optional methods (``find_existing``, ``delete``) must be
overridden exactly when ``capabilities`` claims them; :func:`check_network` enforces it.
"""

from __future__ import annotations

import abc
import inspect
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from publishers.errors import PermanentError
from publishers.listening import MessagePage
from publishers.oauth import ConnectedAccount, OAuthApp, OAuthClient, token_secrets
from publishers.preview import PostPreview
from publishers.rendering import text_with_links
from publishers.retry import RetryPolicy
from publishers.values import (
    Capabilities,
    ChannelContext,
    MediaRef,
    MetricSnapshot,
    Post,
    Problem,
    PublicationRef,
    PublishResult,
)

__all__ = [
    "Network",
    "SettingField",
    "capability_problems",
    "check_network",
    "counted_length",
    "media_problems",
    "settings_problems",
]

NETWORK_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")

FieldKind = Literal["string", "text", "url", "integer", "number", "boolean", "json", "secret"]


@dataclass(frozen=True, slots=True)
class SettingField:
    """Describes one channel setting or secret, so an API or admin can render a form for it
    without knowing the network."""

    name: str
    label: str
    help_text: str = ""
    kind: FieldKind = "string"
    required: bool = False
    default: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "help_text": self.help_text,
            "kind": self.kind,
            "required": self.required,
            "default": self.default,
        }


class Network(abc.ABC):
    """Base class for a destination network.

    Subclasses set the class attributes and implement the abstract methods. Instances must be
    safe to share between threads: keep per-delivery state in locals, not on ``self``.

    :cvar key: stable identifier stored on channels (``[a-z][a-z0-9_-]*``, at most 40 chars).
    :cvar display_name: what a person sees in lists.
    :cvar capabilities: what the network can do; see :class:`~publishers.values.Capabilities`.
    :cvar settings_schema: the channel settings it reads, for forms and validation.
    :cvar secret_fields: the channel secrets it needs (tokens, signing keys).
    :cvar retry_policy: how this network wants transient failures retried (its rate limits,
        how long its idempotency keys hold), or ``None`` for the host's policy. The operator can
        still override it per network.
    """

    key: ClassVar[str]
    display_name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    settings_schema: ClassVar[Sequence[SettingField]] = ()
    secret_fields: ClassVar[Sequence[SettingField]] = ()
    retry_policy: ClassVar[RetryPolicy | None] = None

    @abc.abstractmethod
    def validate(self, post: Post, channel: ChannelContext) -> list[Problem]:
        """Return the reasons ``post`` cannot go to ``channel``; empty when it can.

        Must be pure and fast (no network I/O): the API calls it while a person edits a post.
        Start from :func:`capability_problems` and add network-specific rules.
        """

    @abc.abstractmethod
    def publish(self, post: Post, channel: ChannelContext, idempotency_key: str) -> PublishResult:
        """Send ``post`` and return what the network made.

        :param idempotency_key: stable for the publication across attempts; pass it on to the
            network when it supports one, so a retry after an ambiguous failure cannot post twice.
        :raises TransientError: try again later (time-out, 5xx, rate limit).
        :raises PermanentError: the network refused the post.
        :raises CredentialsExpired: the channel must be reconnected.
        """

    @abc.abstractmethod
    def fetch_metrics(self, ref: PublicationRef, channel: ChannelContext) -> MetricSnapshot:
        """Read the engagement of one delivered post. Metrics the network cannot read stay
        ``None``; only those listed in ``capabilities.metrics`` may be set."""

    def find_existing(self, idempotency_key: str, channel: ChannelContext) -> PublishResult | None:
        """Find a post made earlier with ``idempotency_key``, for reconciliation after a crash or
        an ambiguous time-out. Override when ``capabilities.can_find_existing``.

        A network that cannot look posts up by key (it keeps no key, or forgets it) searches by
        content instead: declare keyword parameters ``post`` (the post as it was sent, for its
        text or fingerprint) and/or ``first_attempt_at`` (when the first attempt started, aware
        UTC, ``None`` if unknown: search no earlier) and Kairos passes them."""
        raise PermanentError(
            f"The {self.display_name} network cannot look up earlier posts.", code="not_supported"
        )

    def delete(self, ref: PublicationRef, channel: ChannelContext) -> None:
        """Remove a delivered post (a recall). Override when ``capabilities.can_delete``."""
        raise PermanentError(
            f"The {self.display_name} network cannot delete posts.", code="not_supported"
        )

    # --- listening (optional; see publishers.listening) ------------------------------------

    def fetch_replies(
        self, channel: ChannelContext, cursor: str, posts: Sequence[PublicationRef]
    ) -> MessagePage:
        """Replies and comments to our posts newer than ``cursor`` (``""``: from the start the
        network keeps, or a day back). Override when ``"replies"`` is in
        ``capabilities.listening``.

        :param posts: the channel's recently delivered publications the host still listens to
            (newest first); a reply's ``in_reply_to`` should name one of their ``external_id``
            (or a reply below one, for a conversation).
        :raises StaleCursor: the cursor is no longer accepted; the host starts again from ``""``.
        :raises TransientError: try later (``retry_after`` for a rate limit).
        """
        raise PermanentError(
            f"The {self.display_name} network cannot read replies.", code="not_supported"
        )

    def fetch_mentions(self, channel: ChannelContext, cursor: str) -> MessagePage:
        """Posts that mention the channel's account, newer than ``cursor``. Override when
        ``"mentions"`` is in ``capabilities.listening``; errors as :meth:`fetch_replies`."""
        raise PermanentError(
            f"The {self.display_name} network cannot read mentions.", code="not_supported"
        )

    def search_posts(
        self, channel: ChannelContext, terms: Sequence[str], cursor: str
    ) -> MessagePage:
        """Public posts that contain any of ``terms`` (words, phrases or ``#hashtags``, as a
        person typed them), newer than ``cursor``. Override when ``"search"`` is in
        ``capabilities.listening``; errors as :meth:`fetch_replies`. The host gives each watch
        its own cursor."""
        raise PermanentError(
            f"The {self.display_name} network cannot search posts.", code="not_supported"
        )

    def test_connection(self, channel: ChannelContext) -> list[Problem]:
        """Check the channel's settings and credentials without posting anything.

        The API's "test connection" action shows the problems returned here. The default checks
        that required settings and secrets are present; override to also ask the network.
        """
        problems = []
        for spec in self.settings_schema:
            if spec.required and channel.settings.get(spec.name) in (None, ""):
                problems.append(
                    Problem(
                        "missing_setting", f"{spec.label} is required.", f"settings.{spec.name}"
                    )
                )
        for spec in self.secret_fields:
            if spec.required and not channel.secrets.get(spec.name):
                problems.append(
                    Problem("missing_secret", f"{spec.label} is required.", f"secrets.{spec.name}")
                )
        return problems

    def refresh_credentials(self, channel: ChannelContext) -> Mapping[str, Any] | None:
        """Renew the channel's credentials now, when the network allows it (an OAuth refresh
        token, a fresh session), so a live moment does not meet a token that expires mid-way.
        Kairos calls it before testing a channel for a moment's readiness check.

        Return the secrets to store (merged into the channel's, e.g. the new access and refresh
        tokens), or ``None`` when there is nothing to renew. Raise ``CredentialsExpired`` when
        the network refuses to renew (the channel must be reconnected). Default: ``None``."""
        return None

    def capabilities_for(self, channel: ChannelContext) -> Capabilities:
        """What this network can do for one channel: the class's :attr:`capabilities`,
        narrowed or widened by what is known about the channel's server (a Mastodon instance
        that allows 5,000 characters). Must be pure and fast, like :meth:`validate`: read what
        :meth:`discover` learned from ``channel.facts``, never ask the network here."""
        return self.capabilities

    def preview(self, post: Post, channel: ChannelContext) -> PostPreview:
        """The exact text this network will receive for ``post`` (one part of a thread, already
        rendered), counted as the network counts it; shown to people before they approve or fire.

        Pure and fast like :meth:`validate`: never ask the network here. The default is the text
        a text-only network posts (:func:`publishers.text_with_links`), counted by code point
        with URLs as ``characters_per_url``; override when the network shows the text
        differently (shortened links, a subject) or counts it differently (graphemes).
        """
        capabilities = self.capabilities_for(channel)
        text = text_with_links(post)
        return PostPreview(
            text=text,
            length=counted_length(text, capabilities),
            limit=capabilities.max_text_length,
        )

    def discover(self, channel: ChannelContext) -> Mapping[str, Any]:
        """Ask the network what the channel's server allows (its limits, its media types) and
        return it as JSON-ready facts; the host keeps them per channel (``channel.facts``) and
        calls this when a channel is saved, when its connection is tested and once a day.
        Default: nothing to learn."""
        return {}

    def upload_media(self, media: MediaRef, content: bytes, channel: ChannelContext) -> str:
        """Upload one medium before the post that carries it, and return the network's id for
        it; the host then hands :meth:`publish` the post with ``media[i].network_id`` set and
        remembers the id, so a retry does not upload again. Override when
        ``capabilities.supports_media`` and the network takes uploads; a network that attaches
        media by URL (a webhook) leaves this alone and reads ``media[i].url``.

        :raises TransientError: / :raises PermanentError: as for :meth:`publish`.
        """
        return ""

    def oauth_app(self, settings: Mapping[str, Any]) -> OAuthApp | None:
        """The OAuth 2.0 authorisation-code flow that connects a channel with these settings
        (the instance, for a network with many servers), or ``None`` when the network connects
        by pasted credentials only. Pure: no I/O."""
        return None

    def register_oauth_client(self, settings: Mapping[str, Any], redirect_uri: str) -> OAuthClient:
        """Register Kairos as a client on the channel's server (Mastodon's ``/api/v1/apps``)
        and return the client. Only for networks whose every server needs its own client; the
        host keeps the answer per server and redirect URI. The default says the operator must
        configure a client."""
        raise PermanentError(
            f"{self.display_name} needs an OAuth client configured by the operator.",
            code="oauth_client_missing",
        )

    def oauth_account(
        self, settings: Mapping[str, Any], token: Mapping[str, Any]
    ) -> ConnectedAccount:
        """Read the account the token belongs to (its handle, name, avatar) and say which
        secrets the channel keeps from the token. Override with :meth:`oauth_app`."""
        raise PermanentError(f"{self.display_name} cannot connect by OAuth.", code="not_supported")

    def oauth_accounts(
        self, settings: Mapping[str, Any], token: Mapping[str, Any]
    ) -> Sequence[ConnectedAccount]:
        """The accounts this login can connect: one (the default, :meth:`oauth_account`), or
        several the person picks from after signing in (the Facebook Pages they manage, the
        LinkedIn organisations they administer). An empty answer means the login gives access
        to no account Kairos can post to; say why by raising :class:`PermanentError` instead."""
        return [self.oauth_account(settings, token)]

    def oauth_refreshed(
        self, secrets: Mapping[str, str], token: Mapping[str, Any]
    ) -> dict[str, str]:
        """The channel's secrets after a refresh answered ``token``: the new access token, and
        the new refresh token when the network rotated it. A refresh token is never replaced by
        an empty one (some networks send none back when it did not change).

        :raises ValueError: the answer holds no access token.
        """
        fresh = token_secrets(token)
        return {**secrets, **fresh}

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description for the API's list of networks."""
        return {
            "key": self.key,
            "display_name": self.display_name,
            "capabilities": self.capabilities.to_dict(),
            "retry_policy": None if self.retry_policy is None else self.retry_policy.describe(),
            "connects_by_oauth": type(self).oauth_app is not Network.oauth_app,
            "settings_schema": [f.to_dict() for f in self.settings_schema],
            "secret_fields": [f.to_dict() for f in self.secret_fields],
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} key={getattr(self, 'key', '?')!r}>"


#: Longest value of a ``string`` or ``secret`` setting, and of a ``text`` one.
MAX_STRING = 2000
MAX_TEXT = 100_000


def _kind_problem(spec: SettingField, value: Any) -> str | None:
    """Why ``value`` does not fit ``spec.kind``, or ``None`` when it does."""
    kind = spec.kind
    if kind in ("string", "secret", "text", "url"):
        if not isinstance(value, str):
            return "must be a string"
        if len(value) > (MAX_TEXT if kind == "text" else MAX_STRING):
            return "is too long"
        if "\x00" in value:
            return "must not contain NUL characters"
        if kind == "url":
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return "must be an http(s) URL"
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "integer":
        return (
            None if isinstance(value, int) and not isinstance(value, bool) else "must be an integer"
        )
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "must be a number"
        return None if math.isfinite(value) else "must be a finite number"
    return None  # json: any JSON value


def settings_problems(
    network: Network, settings: Mapping[str, Any], secrets: Mapping[str, Any] | None = None
) -> list[Problem]:
    """Check a channel's settings (and its secrets, when they are being set) against what the
    network declares: unknown keys refused, required ones demanded, types checked.

    The host calls it whenever a channel is created or changed, through the API and the admin
    alike, so a workspace can only set what the plugin author meant to be settable (a switch
    the plugin does not declare - say, one that reaches private addresses - cannot be smuggled
    in). ``secrets=None`` leaves the stored secrets alone (they are write-only).
    """
    problems: list[Problem] = []
    groups: list[tuple[str, Mapping[str, Any], Sequence[SettingField]]] = [
        ("settings", settings, network.settings_schema)
    ]
    if secrets is not None:
        groups.append(("secrets", secrets, network.secret_fields))
    for group, values, schema in groups:
        specs = {spec.name: spec for spec in schema}
        for name in sorted(set(values) - set(specs)):
            known = ", ".join(sorted(specs)) or "none"
            problems.append(
                Problem(
                    "unknown_setting",
                    f"{network.display_name} has no {group[:-1]} {name!r} (known: {known}).",
                    f"{group}.{name}",
                )
            )
        for name, spec in specs.items():
            value = values.get(name)
            if value is None or value == "":
                if spec.required:
                    problems.append(
                        Problem("missing_setting", f"{spec.label} is required.", f"{group}.{name}")
                    )
                continue
            why = _kind_problem(spec, value)
            if why:
                problems.append(
                    Problem("invalid_setting", f"{spec.label} {why}.", f"{group}.{name}")
                )
    return problems


def counted_length(text: str, capabilities: Capabilities) -> int:
    """The length of ``text`` as the network counts it: by code point, each URL as
    ``capabilities.characters_per_url`` when the network counts them so."""
    per_url = capabilities.characters_per_url
    if per_url is None:
        return len(text)
    return len(_URL.sub("x" * per_url, text))


_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)


def media_problems(
    media: Sequence[MediaRef], capabilities: Capabilities, field: str = "media"
) -> list[Problem]:
    """What a network's media limits say about ``media``: support, count, type, size."""
    if not media:
        return []
    if not capabilities.supports_media:
        return [Problem("media_not_supported", "This network does not take media.", field)]
    problems: list[Problem] = []
    limit = capabilities.max_media
    if limit is not None and len(media) > limit:
        problems.append(
            Problem(
                "too_many_media",
                f"The post has {len(media)} media; this network allows {limit}.",
                field,
            )
        )
    for index, item in enumerate(media):
        where = f"{field}.{index}"
        if item.mime_type and not capabilities.accepts_media_type(item.mime_type):
            accepted = ", ".join(capabilities.media_types)
            problems.append(
                Problem(
                    "media_type_not_supported",
                    f"This network does not take {item.mime_type} (it takes {accepted}).",
                    where,
                )
            )
        cap = capabilities.max_media_bytes
        if cap is not None and item.size is not None and item.size > cap:
            problems.append(
                Problem(
                    "media_too_large",
                    f"{item.name or 'This medium'} is {item.size:,} bytes; this network allows "
                    f"{cap:,}.",
                    where,
                )
            )
    return problems


def capability_problems(post: Post, capabilities: Capabilities) -> list[Problem]:
    """The problems any network would report from its capabilities alone: text too long, too
    many links, media the network cannot take, a thread where none are supported. Networks call
    this first in :meth:`Network.validate`.

    For a thread it checks that the network takes threads of that many parts; the host then
    validates each later part as a post of its own (problems under ``thread.<n>.``), so a
    network's ``validate`` only ever looks at one part's ``body`` and ``media``."""
    problems: list[Problem] = []
    if not post.body.strip() and not post.media:
        problems.append(Problem("empty_post", "The post has no text and no media.", "body"))
    problems += _length_problems(post.body, capabilities, "body")
    if post.links and not capabilities.supports_links:
        problems.append(
            Problem("links_not_supported", "This network does not take links.", "links")
        )
    elif capabilities.max_links is not None and len(post.links) > capabilities.max_links:
        problems.append(
            Problem(
                "too_many_links",
                f"The post has {len(post.links)} links; this network allows "
                f"{capabilities.max_links}.",
                "links",
            )
        )
    problems += media_problems(post.media, capabilities)
    if post.thread:
        problems += _thread_problems(post, capabilities)
    return problems


def _length_problems(text: str, capabilities: Capabilities, field: str) -> list[Problem]:
    limit = capabilities.max_text_length
    if limit is None:
        return []
    length = counted_length(text, capabilities)
    if length <= limit:
        return []
    how = (
        f" (each link counts {capabilities.characters_per_url})"
        if capabilities.characters_per_url is not None
        else ""
    )
    return [
        Problem(
            "text_too_long",
            f"The text is {length} characters long{how}; this network allows {limit}.",
            field,
        )
    ]


def _thread_problems(post: Post, capabilities: Capabilities) -> list[Problem]:
    if not capabilities.supports_threads:
        return [
            Problem(
                "threads_not_supported",
                "This network does not take threads; post the parts as separate items.",
                "thread",
            )
        ]
    problems: list[Problem] = []
    count = 1 + len(post.thread)
    if capabilities.max_thread_parts is not None and count > capabilities.max_thread_parts:
        problems.append(
            Problem(
                "thread_too_long",
                f"The thread has {count} parts; this network allows "
                f"{capabilities.max_thread_parts}.",
                "thread",
            )
        )
    return problems


#: Which method reads each listening stream.
LISTENING_METHODS = {
    "replies": "fetch_replies",
    "mentions": "fetch_mentions",
    "search": "search_posts",
}


def _overrides(network: Network, name: str) -> bool:
    return getattr(type(network), name) is not getattr(Network, name)


def check_network(network: object) -> str | None:
    """Return why ``network`` breaks the contract, or ``None`` when it keeps it.

    Used at registration so a broken plugin stops Kairos at start-up with its name attached.
    """
    if isinstance(network, type):
        return f"{network.__name__} is a class; return an instance (e.g. {network.__name__}())"
    if not isinstance(network, Network):
        return f"{network!r} is not a publishers.Network"
    key = getattr(network, "key", None)
    if not isinstance(key, str) or not NETWORK_KEY.match(key):
        return f"{type(network).__name__}.key must match {NETWORK_KEY.pattern}, got {key!r}"
    display = getattr(network, "display_name", None)
    if not isinstance(display, str) or not display.strip():
        return f"network {key!r} needs a non-empty display_name"
    caps = getattr(network, "capabilities", None)
    if not isinstance(caps, Capabilities):
        return f"network {key!r}: capabilities must be a publishers.Capabilities"
    if caps.can_find_existing and not _overrides(network, "find_existing"):
        return f"network {key!r} claims can_find_existing but does not implement find_existing()"
    if caps.can_delete and not _overrides(network, "delete"):
        return f"network {key!r} claims can_delete but does not implement delete()"
    for stream, method in LISTENING_METHODS.items():
        claimed, done = stream in caps.listening, _overrides(network, method)
        if claimed and not done:
            return f"network {key!r} claims listening {stream!r} but does not implement {method}()"
        if done and not claimed:
            return f"network {key!r} implements {method}() but does not claim listening {stream!r}"
    if _overrides(network, "upload_media") and not caps.supports_media:
        return f"network {key!r} implements upload_media() but does not claim supports_media"
    policy = getattr(network, "retry_policy", None)
    if policy is not None and not isinstance(policy, RetryPolicy):
        return f"network {key!r}: retry_policy must be a publishers.RetryPolicy or None"
    for group in ("settings_schema", "secret_fields"):
        for spec in getattr(network, group, ()):
            if not isinstance(spec, SettingField):
                return f"network {key!r}: {group} must hold publishers.SettingField values"
    return None


_OPTED_IN: dict[tuple[type, str], frozenset[str]] = {}


def opted_in(network: object, method: str, names: tuple[str, ...]) -> frozenset[str]:
    """Which of ``names`` ``network.<method>`` declares as parameters: the contract grows by
    optional keywords a network opts into by naming them (``**kwargs`` does not count).
    Inspected once per class and method."""
    key = (type(network), method)
    known = _OPTED_IN.get(key)
    if known is None:
        func = getattr(type(network), method, None)
        try:
            parameters = inspect.signature(func).parameters.values() if func else ()
        except (TypeError, ValueError):
            parameters = ()
        known = frozenset(
            p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        )
        _OPTED_IN[key] = known
    return known & frozenset(names)
