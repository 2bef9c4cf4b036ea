"""Plain, immutable values handed to plugins.

Plugins never see model instances: the host turns its rows into these values, hands them over,
and turns what comes back into rows again. Every value is a frozen, slotted dataclass whose
mappings are read-only (:class:`types.MappingProxyType`, nested dicts and lists frozen too), so a
plugin cannot change what another plugin, or the host, will see. Each type has a ``from_dict``
helper so hosts and tests can build one from JSON-like data.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

__all__ = [
    "METRIC_NAMES",
    "CallToAction",
    "Capabilities",
    "ChannelContext",
    "MediaRef",
    "MetricSnapshot",
    "Post",
    "Problem",
    "PublicationRef",
    "PublishResult",
    "ReplyTarget",
    "ThreadPart",
    "VariantOffer",
    "freeze",
    "thaw",
]

#: The engagement metrics Kairos understands, in display order.
METRIC_NAMES: tuple[str, ...] = (
    "impressions",
    "clicks",
    "reactions",
    "shares",
    "replies",
    "conversions",
)

#: Mirrors ``publishers.listening.LISTENING_STREAMS`` (kept here: that module imports this one).
_LISTENING_STREAMS: tuple[str, ...] = ("replies", "mentions", "search")


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


def freeze(value: Any) -> Any:
    """Return a deeply read-only copy: dicts become mapping proxies, lists and sets tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, set | frozenset):
        return tuple(sorted(freeze(v) for v in value))
    return value


def thaw(value: Any) -> Any:
    """Inverse of :func:`freeze` for serialisation: mapping proxies to dicts, tuples to lists."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _set(obj: object, name: str, value: Any) -> None:
    # Frozen dataclasses normalise their own fields in __post_init__ through object.__setattr__.
    object.__setattr__(obj, name, value)


def _aware_utc(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got a naive datetime)")
    return value.astimezone(UTC)


def _parse_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _str_tuple(values: Iterable[Any] | None, name: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        raise TypeError(f"{name} must be a sequence of strings, not a single string")
    return tuple(str(v) for v in values)


@dataclass(frozen=True, slots=True)
class CallToAction:
    """A variant's call to action: what to say, where it leads and, for networks with buttons,
    the button's label."""

    text: str
    url: str = ""
    button_label: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallToAction:
        return cls(
            text=str(data.get("text", "")),
            url=str(data.get("url", "") or ""),
            button_label=str(data.get("button_label", "") or ""),
        )


@dataclass(frozen=True, slots=True)
class VariantOffer:
    """One arm of an experiment, offered to a network that splits one post per recipient.

    ``weight`` is the arm's planned share (a positive integer, relative to the others); ``cta``
    is what this arm's recipients see (``None`` when the arm has no call to action at all).
    Give the offers to :func:`publishers.split_recipients` to split a list.
    """

    key: str
    weight: int = 1
    cta: CallToAction | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise ValueError("a variant offer needs a non-empty key")
        weight = self.weight
        if isinstance(weight, float) and weight.is_integer():
            weight = int(weight)
            _set(self, "weight", weight)
        if isinstance(weight, bool) or not isinstance(weight, int):
            raise TypeError(f"weight must be an int, not {type(weight).__name__}")
        if weight < 1:
            raise ValueError(f"weight of variant {self.key!r} must be >= 1, got {weight}")
        if isinstance(self.cta, Mapping):
            _set(self, "cta", CallToAction.from_dict(self.cta))
        elif self.cta is not None and not isinstance(self.cta, CallToAction):
            raise TypeError("cta must be a CallToAction or None")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VariantOffer:
        cta = data.get("cta")
        return cls(
            key=str(data["key"]),
            weight=data.get("weight", 1),
            cta=None if cta is None else CallToAction.from_dict(cta),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "weight": self.weight,
            "cta": None if self.cta is None else dataclasses.asdict(self.cta),
        }


def _variant_offers(values: Iterable[Any] | None) -> tuple[VariantOffer, ...]:
    if values is None:
        return ()
    if isinstance(values, str | Mapping):
        raise TypeError("variants must be a sequence of VariantOffer")
    offers = []
    for value in values:
        if isinstance(value, Mapping):
            value = VariantOffer.from_dict(value)
        elif not isinstance(value, VariantOffer):
            raise TypeError(f"variants must hold VariantOffer values, not {type(value).__name__}")
        offers.append(value)
    keys = [o.key for o in offers]
    if len(set(keys)) != len(keys):
        raise ValueError(f"variant keys must be distinct, got {keys}")
    return tuple(offers)


@dataclass(frozen=True, slots=True)
class MediaRef:
    """One picture, video or file attached to a post.

    ``url`` is where the bytes can be fetched: a file Kairos stores (served at an unguessable
    address) or a remote URL a person gave. ``mime_type`` and ``size`` are known for stored
    files and guessed (type) or unknown (size) for remote ones; validation uses what is known.
    ``key`` names the attachment within its publication (``"0.1"``: part 0, second medium) so
    the host can remember an upload across retries. ``network_id`` is empty until the host has
    run the network's :meth:`~publishers.Network.upload_media`; ``publish`` then receives the
    id the network gave, and attaches by it instead of uploading again.
    """

    url: str
    mime_type: str = ""
    size: int | None = None
    alt_text: str = ""
    sha256: str = ""
    name: str = ""
    key: str = ""
    network_id: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not self.url:
            raise ValueError("a media reference needs a url")
        size = self.size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise ValueError(f"media size must be a non-negative int or None, got {size!r}")
        _set(self, "mime_type", str(self.mime_type or "").lower())

    @property
    def kind(self) -> str:
        """``image``, ``video``, ``audio`` or ``file``, from the MIME type."""
        major = self.mime_type.split("/", 1)[0]
        return major if major in ("image", "video", "audio") else "file"

    def replace(self, **changes: Any) -> MediaRef:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_value(cls, value: Any) -> MediaRef:
        """A reference from a :class:`MediaRef`, a mapping of its fields, or a bare URL."""
        if isinstance(value, MediaRef):
            return value
        if isinstance(value, str):
            return cls(url=value)
        if isinstance(value, Mapping):
            names = {f.name for f in dataclasses.fields(cls)}
            unknown = set(value) - names
            if unknown:
                raise ValueError(f"unknown MediaRef fields: {', '.join(sorted(unknown))}")
            return cls(**dict(value))
        raise TypeError(f"media must be MediaRef values or URLs, not {type(value).__name__}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _media_tuple(values: Iterable[Any] | None) -> tuple[MediaRef, ...]:
    if values is None:
        return ()
    if isinstance(values, str | Mapping):
        raise TypeError("media must be a sequence of MediaRef values, not a single value")
    return tuple(MediaRef.from_value(v) for v in values)


@dataclass(frozen=True, slots=True)
class ThreadPart:
    """A later part of a thread: its own text and media, posted as a reply to the part before."""

    body: str
    media: tuple[MediaRef, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.body, str):
            raise TypeError("a thread part's body must be a string")
        _set(self, "media", _media_tuple(self.media))

    @classmethod
    def from_value(cls, value: Any) -> ThreadPart:
        if isinstance(value, ThreadPart):
            return value
        if isinstance(value, str):
            return cls(body=value)
        if isinstance(value, Mapping):
            return cls(body=value.get("body", ""), media=value.get("media") or ())
        raise TypeError(f"thread parts must be ThreadPart values, not {type(value).__name__}")

    def to_dict(self) -> dict[str, Any]:
        return {"body": self.body, "media": [m.to_dict() for m in self.media]}


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """Where a thread part goes: under the thread's first post (``root``), answering the part
    just before it (``parent``). Networks need one or both (Bluesky both, Mastodon the parent,
    Matrix the root)."""

    root: PublishResult
    parent: PublishResult

    def __post_init__(self) -> None:
        for name in ("root", "parent"):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                _set(self, name, PublishResult.from_dict(value))
            elif not isinstance(value, PublishResult):
                raise TypeError(f"{name} must be a PublishResult")


@dataclass(frozen=True, slots=True)
class Post:
    """The post as it goes to one channel: one publication's content, already chosen per variant.

    On a network that splits one post per recipient (``Capabilities.per_recipient_split``) a
    post of an experiment carries every arm in ``variants`` instead: ``cta`` is then ``None`` and
    ``variant_key`` empty, and the network gives each recipient one arm's call to action (see
    :func:`publishers.split_recipients` and :func:`publishers.variant_posts`). Other networks
    never receive ``variants``.

    ``scheduled_for`` is normalised to UTC and must be aware; ``None`` means "as soon as possible"
    (a fired reactive template). ``metadata`` carries host-defined extras (tracking ids, the UTM
    campaign) that plugins may read but not change.
    """

    body: str
    links: tuple[str, ...] = ()
    media: tuple[MediaRef, ...] = ()
    cta: CallToAction | None = None
    variant_key: str = ""
    experiment_key: str = ""
    language: str = ""
    brand_name: str = ""
    brand_slug: str = ""
    publication_id: str = ""
    scheduled_for: datetime | None = None
    metadata: Mapping[str, Any] = field(default_factory=_empty)
    variants: tuple[VariantOffer, ...] = ()
    thread: tuple[ThreadPart, ...] = ()
    reply_to: ReplyTarget | None = None
    part_index: int = 0
    part_count: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.body, str):
            raise TypeError("body must be a string")
        _set(self, "links", _str_tuple(self.links, "links"))
        _set(self, "media", _media_tuple(self.media))
        if isinstance(self.thread, str | Mapping):
            raise TypeError("thread must be a sequence of ThreadPart values")
        _set(self, "thread", tuple(ThreadPart.from_value(p) for p in self.thread or ()))
        if isinstance(self.reply_to, Mapping):
            _set(self, "reply_to", ReplyTarget(**dict(self.reply_to)))
        elif self.reply_to is not None and not isinstance(self.reply_to, ReplyTarget):
            raise TypeError("reply_to must be a ReplyTarget or None")
        for name in ("part_index", "part_count"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        if not 0 <= self.part_index < max(self.part_count, 1):
            raise ValueError(
                f"part_index {self.part_index} is outside part_count {self.part_count}"
            )
        if isinstance(self.cta, Mapping):
            _set(self, "cta", CallToAction.from_dict(self.cta))
        elif self.cta is not None and not isinstance(self.cta, CallToAction):
            raise TypeError("cta must be a CallToAction or None")
        _set(self, "publication_id", str(self.publication_id))
        _set(self, "scheduled_for", _aware_utc(self.scheduled_for, "scheduled_for"))
        _set(self, "metadata", freeze(self.metadata or {}))
        _set(self, "variants", _variant_offers(self.variants))
        if self.variants and self.variant_key:
            raise ValueError(
                "a post carries either one variant (variant_key) or the arms to split "
                "(variants), not both"
            )

    def variant(self, key: str) -> VariantOffer:
        """The offer of variant ``key`` (``KeyError`` when the post has no such arm)."""
        for offer in self.variants:
            if offer.key == key:
                return offer
        raise KeyError(key)

    def replace(self, **changes: Any) -> Post:
        """Return a copy with ``changes`` applied: the way transforms produce a new post."""
        return dataclasses.replace(self, **changes)

    def parts(self) -> tuple[Post, ...]:
        """The thread as the posts a network receives, in order: this post's own text first,
        then each :class:`ThreadPart` (same links, call to action and metadata; no ``thread``).
        A post that is not a thread is its own single part. ``reply_to`` is left for the host
        to fill as the parts go out."""
        count = 1 + len(self.thread)
        first = self.replace(thread=(), part_index=0, part_count=count)
        later = [
            self.replace(
                body=part.body,
                media=part.media,
                links=(),
                cta=None,
                thread=(),
                part_index=index,
                part_count=count,
            )
            for index, part in enumerate(self.thread, start=1)
        ]
        return (first, *later)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Post:
        """Build a post from JSON-like data (ISO 8601 ``scheduled_for``, ``cta`` as a dict)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown Post fields: {', '.join(sorted(unknown))}")
        values = dict(data)
        if "scheduled_for" in values:
            values["scheduled_for"] = _parse_datetime(values["scheduled_for"])
        if values.get("reply_to") is not None:
            values["reply_to"] = ReplyTarget(
                root=PublishResult.from_dict(values["reply_to"]["root"]),
                parent=PublishResult.from_dict(values["reply_to"]["parent"]),
            )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (used by the webhook network and by logs)."""
        return {
            "body": self.body,
            "links": list(self.links),
            "media": [m.to_dict() for m in self.media],
            "cta": None if self.cta is None else dataclasses.asdict(self.cta),
            "variant_key": self.variant_key,
            "experiment_key": self.experiment_key,
            "language": self.language,
            "brand_name": self.brand_name,
            "brand_slug": self.brand_slug,
            "publication_id": self.publication_id,
            "scheduled_for": None if self.scheduled_for is None else self.scheduled_for.isoformat(),
            "metadata": thaw(self.metadata),
            "variants": [offer.to_dict() for offer in self.variants],
            "thread": [part.to_dict() for part in self.thread],
            "reply_to": None
            if self.reply_to is None
            else {
                "root": self.reply_to.root.to_dict(),
                "parent": self.reply_to.parent.to_dict(),
            },
            "part_index": self.part_index,
            "part_count": self.part_count,
        }


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """One channel as a plugin sees it: where to post, with which settings and credentials.

    ``secrets`` are decrypted for the duration of a call. They are excluded from ``repr`` and
    ``str`` so that logs, tracebacks and error reports never show them.
    """

    id: str
    network: str
    handle: str = ""
    settings: Mapping[str, Any] = field(default_factory=_empty)
    secrets: Mapping[str, str] = field(default_factory=_empty, repr=False)
    #: What :meth:`~publishers.Network.discover` learned about the channel's server (its
    #: limits), kept by the host; read it in ``capabilities_for`` and ``validate``.
    facts: Mapping[str, Any] = field(default_factory=_empty)

    def __post_init__(self) -> None:
        _set(self, "id", str(self.id))
        _set(self, "settings", freeze(self.settings or {}))
        _set(self, "facts", freeze(self.facts or {}))
        _set(
            self,
            "secrets",
            MappingProxyType({str(k): str(v) for k, v in (self.secrets or {}).items()}),
        )

    def __repr__(self) -> str:
        names = ", ".join(sorted(self.secrets)) or "none"
        return (
            f"ChannelContext(id={self.id!r}, network={self.network!r}, handle={self.handle!r}, "
            f"settings={thaw(self.settings)!r}, secrets=<redacted: {names}>)"
        )

    __str__ = __repr__

    def secret_values(self) -> tuple[str, ...]:
        """The secret values, for scrubbing them out of error details."""
        return tuple(v for v in self.secrets.values() if v)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChannelContext:
        return cls(
            id=str(data["id"]),
            network=str(data["network"]),
            handle=str(data.get("handle", "")),
            settings=data.get("settings") or {},
            secrets=data.get("secrets") or {},
            facts=data.get("facts") or {},
        )


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a network can do. The pipeline, the API and the conformance kit all read these, so
    they must tell the truth: claiming ``supports_idempotency_key`` makes Kairos retry after an
    ambiguous time-out, which is only safe when the network really deduplicates."""

    max_text_length: int | None = None
    max_links: int | None = None
    supports_media: bool = False
    supports_links: bool = True
    supports_threads: bool = False
    supports_idempotency_key: bool = False
    can_find_existing: bool = False
    can_delete: bool = False
    metrics: tuple[str, ...] = ()
    per_recipient_split: bool = False
    #: Seconds during which the network answers a repeated idempotency key with the first post
    #: (Mastodon keeps keys for an hour); ``None`` when it keeps them for ever or has none.
    #: Kairos never retries an attempt that may have posted after this window has closed.
    idempotency_window: float | None = None
    #: Media a post may carry: how many, which MIME types (``"image/*"`` matches a family;
    #: empty means any), and how large each may be in bytes (``None``: no limit known).
    max_media: int | None = None
    media_types: tuple[str, ...] = ()
    max_media_bytes: int | None = None
    #: Most parts a thread may have on this network (``None``: no limit). Only read when
    #: ``supports_threads``.
    max_thread_parts: int | None = None
    #: How many characters every URL counts for, whatever its length (Mastodon: 23), or
    #: ``None`` when URLs count as written.
    characters_per_url: int | None = None
    #: Most posts the network lets one account publish in any 24 hours (Instagram: 100 through
    #: the API), or ``None``. Kairos refuses to schedule a post that would exceed it - when a
    #: person can still pick another time - instead of failing it when it is due; a moment's
    #: readiness check is red when a template's remaining fires do not fit in what is left.
    max_posts_per_day: int | None = None
    #: The conversation streams the network can read back (``"replies"``, ``"mentions"``,
    #: ``"search"``; see :mod:`publishers.listening`); each needs its method implemented.
    listening: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        window = self.idempotency_window
        if window is not None and (isinstance(window, bool) or not window > 0):
            raise ValueError("idempotency_window must be a positive number of seconds or None")
        _set(self, "media_types", _str_tuple(self.media_types, "media_types"))
        for name in (
            "max_text_length",
            "max_links",
            "max_media",
            "max_media_bytes",
            "max_thread_parts",
            "characters_per_url",
            "max_posts_per_day",
        ):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise TypeError(f"{name} must be an int or None")
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0")
        metrics = _str_tuple(self.metrics, "metrics")
        unknown = [m for m in metrics if m not in METRIC_NAMES]
        if unknown:
            raise ValueError(f"unknown metrics {unknown}; known: {', '.join(METRIC_NAMES)}")
        _set(self, "metrics", metrics)
        listening = _str_tuple(self.listening, "listening")
        strange = [s for s in listening if s not in _LISTENING_STREAMS]
        if strange:
            raise ValueError(
                f"unknown listening streams {strange}; known: {', '.join(_LISTENING_STREAMS)}"
            )
        _set(self, "listening", listening)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["metrics"] = list(self.metrics)
        data["media_types"] = list(self.media_types)
        data["listening"] = list(self.listening)
        return data

    def replace(self, **changes: Any) -> Capabilities:
        """A copy with ``changes``: how a network narrows its limits for one channel."""
        return dataclasses.replace(self, **changes)

    def accepts_media_type(self, mime_type: str) -> bool:
        """Whether ``mime_type`` is among :attr:`media_types` (any type when they are empty)."""
        if not self.media_types:
            return True
        mime_type = mime_type.lower()
        family = mime_type.split("/", 1)[0] + "/*"
        return any(t.lower() in (mime_type, family) for t in self.media_types)


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a post cannot go out, addressed to the person who wrote it.

    ``code`` is stable and machine-readable; ``field`` names what to fix (``body``, ``links``,
    ``cta.url``, ``settings.url``) or is ``None`` for the post as a whole.
    """

    code: str
    message: str
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "field": self.field}


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What the network says it made: its id for the post, a public URL if any, and when.

    ``recipients_per_variant`` is for networks that split one post per recipient: how many
    recipients got each variant of ``Post.variants`` (read-only; empty otherwise). Kairos
    records these counts as the variants' exposures.
    """

    external_id: str
    url: str = ""
    published_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    recipients_per_variant: Mapping[str, int] = field(default_factory=_empty)
    #: What else the network needs to refer to the post later, as short strings (Bluesky's
    #: record ``cid`` beside its URI, a Matrix room id). Kept with the publication and handed
    #: back in :class:`ReplyTarget` for the next part of a thread.
    extra: Mapping[str, str] = field(default_factory=_empty)

    def __post_init__(self) -> None:
        if not isinstance(self.external_id, str) or not self.external_id:
            raise ValueError("external_id must be a non-empty string")
        if not isinstance(self.extra, Mapping):
            raise TypeError("extra must be a mapping of strings")
        _set(self, "extra", MappingProxyType({str(k): str(v) for k, v in self.extra.items()}))
        _set(self, "published_at", _aware_utc(self.published_at, "published_at"))
        _set(self, "recipients_per_variant", _counts(self.recipients_per_variant))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PublishResult:
        published = _parse_datetime(data.get("published_at")) or datetime.now(UTC)
        return cls(
            str(data["external_id"]),
            str(data.get("url") or ""),
            published,
            data.get("recipients_per_variant") or {},
            data.get("extra") or {},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "external_id": self.external_id,
            "url": self.url,
            "published_at": self.published_at.isoformat(),
            "recipients_per_variant": dict(self.recipients_per_variant),
            "extra": dict(self.extra),
        }


def _counts(values: Mapping[str, int] | None) -> Mapping[str, int]:
    if values is None:
        return _empty()
    if not isinstance(values, Mapping):
        raise TypeError("recipients_per_variant must be a mapping of variant key to count")
    out: dict[str, int] = {}
    for key, count in values.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"recipients_per_variant keys must be variant keys, got {key!r}")
        if isinstance(count, float) and math.isfinite(count) and count.is_integer():
            count = int(count)
        if isinstance(count, bool) or not isinstance(count, int):
            raise TypeError(
                f"recipients_per_variant[{key!r}] must be an int, not {type(count).__name__}"
            )
        if count < 0:
            raise ValueError(f"recipients_per_variant[{key!r}] must be >= 0, got {count}")
        out[key] = count
    return MappingProxyType(out)


@dataclass(frozen=True, slots=True)
class MetricSnapshot:
    """Engagement read back at ``collected_at``. ``None`` means the network cannot read that
    metric (not zero: an unknown count must not drag an A/B test towards "no effect")."""

    impressions: int | None = None
    clicks: int | None = None
    reactions: int | None = None
    shares: int | None = None
    replies: int | None = None
    conversions: int | None = None
    collected_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        for name in METRIC_NAMES:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, float) and math.isfinite(value) and value.is_integer():
                value = int(value)
                _set(self, name, value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int or None, not {type(value).__name__}")
            if value < 0:
                raise ValueError(f"{name} must be >= 0")
        _set(self, "collected_at", _aware_utc(self.collected_at, "collected_at"))

    def available(self) -> dict[str, int]:
        """The metrics the network could read, by name."""
        return {n: getattr(self, n) for n in METRIC_NAMES if getattr(self, n) is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricSnapshot:
        values = {n: data.get(n) for n in METRIC_NAMES}
        collected = _parse_datetime(data.get("collected_at")) or datetime.now(UTC)
        return cls(**values, collected_at=collected)


@dataclass(frozen=True, slots=True)
class PublicationRef:
    """Enough to find one delivered publication again: for metrics, deletion and notifications."""

    publication_id: str
    idempotency_key: str
    network: str
    external_id: str = ""
    url: str = ""
    variant_key: str = ""
    #: The first post's :attr:`PublishResult.extra`.
    extra: Mapping[str, str] = field(default_factory=_empty)
    #: The later parts of a thread as they went out (deleting a thread deletes them too).
    thread: tuple[PublishResult, ...] = ()

    def __post_init__(self) -> None:
        _set(self, "publication_id", str(self.publication_id))
        _set(self, "extra", MappingProxyType({str(k): str(v) for k, v in self.extra.items()}))
        _set(
            self,
            "thread",
            tuple(
                p if isinstance(p, PublishResult) else PublishResult.from_dict(p)
                for p in self.thread or ()
            ),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PublicationRef:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
