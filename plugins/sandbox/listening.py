"""A plausible, seeded conversation for the sandbox: replies to its posts, mentions of the
account, and posts matching a watch, with an optional complaint surge, so a demo has something to
read and the listening pipeline has something to test against.

Everything is a pure function of (seed, channel, stream, time): time is cut into ten-minute
buckets, each bucket draws how many messages it holds and what they say from a generator seeded
by its own coordinates, so asking twice gives the same messages with the same ids, and asking
later only adds messages (the host's unique key does the rest). The cursor is the instant up to
which the stream was read.

Settings (all optional): ``seed``; ``mentions_per_hour`` (default 4); ``replies_per_post``
(mean, default 3); ``surge_at`` (an ISO instant) with ``surge_minutes`` (default 60) and
``surge_factor`` (default 10): during the surge, mentions and watch matches arrive that much
faster and three in four are complaints.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from publishers import InboundMessage, MessagePage, SettingField, StaleCursor

__all__ = ["LISTENING_SETTINGS", "SandboxConversation"]

BUCKET = timedelta(minutes=10)
#: How far back an empty cursor starts, and the oldest cursor still accepted.
LOOKBACK = timedelta(days=1)
STALE_AFTER = timedelta(days=7)
PAGE_SIZE = 200

LISTENING_SETTINGS = (
    SettingField("mentions_per_hour", "Mentions per hour", "Sandbox listening rate.", "number"),
    SettingField("replies_per_post", "Replies per post", "Mean replies to each post.", "number"),
    SettingField("surge_at", "Surge at", "ISO instant a complaint surge starts.", "string"),
    SettingField("surge_minutes", "Surge minutes", "How long the surge lasts.", "integer"),
    SettingField("surge_factor", "Surge factor", "How much faster messages come.", "number"),
)

#: What people say, per language and kind. ``{term}`` is a watched term (or the brand handle).
TEXTS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "en": {
        "question": (
            "Does {term} ship to Canada?",
            "How do I reset my {term} password?",
            "When is the next {term} sale?",
            "Is {term} available in blue?",
        ),
        "complaint": (
            "My {term} order arrived broken, really disappointed.",
            "{term} support never answers. Terrible service.",
            "Worst update ever, {term} keeps crashing.",
            "Still waiting for my refund from {term}. This is awful.",
        ),
        "praise": (
            "Love the new {term}, great job!",
            "{term} customer service was amazing today, thank you!",
            "Best purchase this year, {term} is excellent.",
        ),
        "other": (
            "Saw the {term} ad on the train this morning.",
            "{term} at the fair today.",
        ),
    },
    "fr": {
        "question": (
            "Est-ce que {term} livre en Belgique ?",
            "Comment changer mon mot de passe {term} ?",
            "Quand sort la nouvelle collection {term} ?",
        ),
        "complaint": (
            "Ma commande {term} est arrivée cassée, très déçu.",
            "Le service client {term} ne répond jamais. Nul.",
            "Toujours pas remboursé par {term}, c'est honteux.",
        ),
        "praise": (
            "J'adore le nouveau {term}, bravo !",
            "Super accueil chez {term}, merci beaucoup !",
            "Excellent produit, {term} au top.",
        ),
        "other": ("Vu la pub {term} dans le métro.", "{term} au salon aujourd'hui."),
    },
    # A language the classifier does not know, and that the network does not name.
    "": {
        "question": ("Liefert {term} nach Österreich?",),
        "complaint": ("Meine {term} Bestellung ist kaputt angekommen.",),
        "praise": ("{term} ist wirklich toll!",),
        "other": ("{term} heute auf der Messe.",),
    },
}
AUTHORS = (
    ("ana", "Ana Souza"),
    ("bilal", "Bilal K."),
    ("chloe", "Chloé Martin"),
    ("dev", "Dev Patel"),
    ("emma", "Emma L."),
    ("farid", ""),
    ("greta", "Greta"),
    ("hugo", "Hugo Bernard"),
)
NORMAL_MIX = {"question": 0.3, "complaint": 0.15, "praise": 0.35, "other": 0.2}
SURGE_MIX = {"question": 0.1, "complaint": 0.75, "praise": 0.05, "other": 0.1}
LANGUAGES = {"en": 0.65, "fr": 0.3, "": 0.05}


def _rng(*parts: Any) -> random.Random:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _pick(rng: random.Random, weights: Mapping[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:  # normal approximation; Knuth's method would underflow
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _number(settings: Mapping[str, Any], name: str, default: float) -> float:
    value = settings.get(name)
    if value is None or isinstance(value, bool):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) and number >= 0 else default


class SandboxConversation:
    """The seeded conversation of one sandbox channel."""

    def __init__(self, channel_id: str, handle: str, settings: Mapping[str, Any]) -> None:
        self.channel_id = channel_id
        self.handle = handle or "sandbox"
        self.seed = settings.get("seed") or 0
        self.mentions_per_hour = _number(settings, "mentions_per_hour", 4.0)
        self.replies_per_post = _number(settings, "replies_per_post", 3.0)
        self.surge_factor = _number(settings, "surge_factor", 10.0)
        self.surge = self._surge(settings)

    @staticmethod
    def _surge(settings: Mapping[str, Any]) -> tuple[datetime, datetime] | None:
        start = settings.get("surge_at")
        if not start:
            return None
        try:
            at = datetime.fromisoformat(str(start))
        except ValueError:
            return None
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        minutes = _number(settings, "surge_minutes", 60.0)
        return at, at + timedelta(minutes=minutes)

    def in_surge(self, at: datetime) -> bool:
        return self.surge is not None and self.surge[0] <= at < self.surge[1]

    # --- cursors --------------------------------------------------------------------------

    @staticmethod
    def since(cursor: str, now: datetime) -> datetime:
        """The instant a cursor stands for; raises :class:`StaleCursor` when it is unreadable or
        older than the sandbox keeps."""
        if not cursor:
            return now - LOOKBACK
        try:
            at = datetime.fromisoformat(cursor)
        except ValueError:
            raise StaleCursor("The sandbox cannot read this cursor.") from None
        if at.tzinfo is None or at < now - STALE_AFTER:
            raise StaleCursor("The sandbox no longer keeps messages that old.")
        return at

    @staticmethod
    def page(messages: list[InboundMessage], now: datetime) -> MessagePage:
        """At most :data:`PAGE_SIZE` messages, oldest first; the cursor resumes at the last
        one's instant (so a message sharing it may come twice, never be skipped). Given more
        (a stream cut after a full bucket), the rest comes on the next call."""
        messages.sort(key=lambda m: (m.published_at, m.network_id))
        if len(messages) > PAGE_SIZE:
            kept = messages[:PAGE_SIZE]
            return MessagePage(tuple(kept), kept[-1].published_at.isoformat(), more=True)
        return MessagePage(tuple(messages), now.isoformat())

    # --- streams --------------------------------------------------------------------------

    def _message(
        self, rng: random.Random, ident: str, at: datetime, term: str, mix: Mapping[str, float]
    ) -> InboundMessage:
        language = _pick(rng, LANGUAGES)
        kind = _pick(rng, mix)
        text = rng.choice(TEXTS[language][kind]).format(term=term)
        handle, name = rng.choice(AUTHORS)
        network_id = "sbm_" + hashlib.sha256(ident.encode()).hexdigest()[:20]
        return InboundMessage(
            network_id=network_id,
            text=text,
            author_handle=f"@{handle}@sandbox.example",
            author_name=name,
            language=language,
            published_at=at,
            url=f"sandbox://{self.channel_id}/{network_id}",
        )

    def stream(
        self, name: str, term: str, since: datetime, until: datetime, limit: int = PAGE_SIZE + 1
    ) -> Iterator[InboundMessage]:
        """Messages of stream ``name`` (``mentions`` or ``search:<terms>``) in [since, until],
        bucket after bucket, stopping after the bucket that reached ``limit`` (so a long
        backlog costs one page's work per call, and no message before the cut is missing)."""
        step = BUCKET.total_seconds()
        first = math.floor(since.timestamp() / step)
        last = math.floor(until.timestamp() / step)
        count = 0
        for bucket in range(first, last + 1):
            if count >= limit:
                return
            start = datetime.fromtimestamp(bucket * step, UTC)
            surge = self.in_surge(start)
            rate = self.mentions_per_hour * (self.surge_factor if surge else 1.0)
            rng = _rng(self.seed, self.channel_id, name, bucket)
            for index in range(_poisson(rng, rate * step / 3600)):
                at = start + timedelta(seconds=rng.random() * step)
                ident = f"{self.seed}/{self.channel_id}/{name}/{bucket}/{index}"
                message = self._message(rng, ident, at, term, SURGE_MIX if surge else NORMAL_MIX)
                if since <= at <= until:
                    count += 1
                    yield message

    def replies(
        self, post_id: str, published_at: datetime, since: datetime, until: datetime
    ) -> Iterator[InboundMessage]:
        """Replies to one of our posts: a seeded number of them, spread over the hours after
        it went out (more complaints while a surge lasts)."""
        rng = _rng(self.seed, self.channel_id, "replies", post_id)
        for index in range(_poisson(rng, self.replies_per_post)):
            at = published_at + timedelta(seconds=rng.expovariate(1 / 1800))
            ident = f"{self.seed}/{self.channel_id}/reply/{post_id}/{index}"
            mix = SURGE_MIX if self.in_surge(at) else NORMAL_MIX
            message = self._message(rng, ident, at, self.handle, mix)
            if since <= at <= until:
                yield InboundMessage(
                    **{**message.to_dict(), "published_at": at, "in_reply_to": post_id}
                )

    def search_key(self, terms: Sequence[str]) -> str:
        return "search:" + "|".join(sorted(t.lower() for t in terms))
