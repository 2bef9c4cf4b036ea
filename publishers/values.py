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
    "MetricSnapshot",
    "Post",
    "Problem",
    "PublicationRef",
    "PublishResult",
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
    media: tuple[str, ...] = ()
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

    def __post_init__(self) -> None:
        if not isinstance(self.body, str):
            raise TypeError("body must be a string")
        _set(self, "links", _str_tuple(self.links, "links"))
        _set(self, "media", _str_tuple(self.media, "media"))
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
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (used by the webhook network and by logs)."""
        return {
            "body": self.body,
            "links": list(self.links),
            "media": list(self.media),
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

    def __post_init__(self) -> None:
        _set(self, "id", str(self.id))
        _set(self, "settings", freeze(self.settings or {}))
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

    def __post_init__(self) -> None:
        window = self.idempotency_window
        if window is not None and (isinstance(window, bool) or not window > 0):
            raise ValueError("idempotency_window must be a positive number of seconds or None")
        for name in ("max_text_length", "max_links"):
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

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["metrics"] = list(self.metrics)
        return data


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

    def __post_init__(self) -> None:
        if not isinstance(self.external_id, str) or not self.external_id:
            raise ValueError("external_id must be a non-empty string")
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
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "external_id": self.external_id,
            "url": self.url,
            "published_at": self.published_at.isoformat(),
            "recipients_per_variant": dict(self.recipients_per_variant),
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

    def __post_init__(self) -> None:
        _set(self, "publication_id", str(self.publication_id))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PublicationRef:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
