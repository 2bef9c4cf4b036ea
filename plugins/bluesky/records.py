"""Record keys, ``at://`` URIs and links for Bluesky posts.

Exactly once without an idempotency header: a record is written under a record key (*rkey*)
Kairos chooses, derived from the publication's idempotency key alone. A retry writes the same
rkey, which the PDS refuses because the record exists, and Kairos reads the record back instead
of posting twice; :meth:`find_existing` asks for that rkey too.

The rkey is TID-shaped (13 characters of base32-sortable, as the ``app.bsky.feed.post`` lexicon
requires: the PDS refuses any other key for a post). A TID is a microsecond timestamp and a
10-bit clock id; here both come from a SHA-256 of the key, the timestamp folded into a fixed
window starting 2023-01-01, so every derived rkey is a valid TID from the past. Apps order posts
by ``createdAt`` and when they saw them, not by rkey, so the fixed window orders nothing wrongly.
With 55 bits of hash, two keys of one account collide with odds of about one in 10^8 even after
a million posts.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

__all__ = [
    "POST",
    "at_uri",
    "created_at",
    "parse_at_uri",
    "post_url",
    "rkey_for",
]

POST = "app.bsky.feed.post"
_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_EPOCH_US = 1_672_531_200_000_000  # 2023-01-01T00:00:00Z
_WINDOW_BITS = 45  # about 407 days of microseconds
_AT_URI = re.compile(r"^at://(?P<repo>[^/]+)/(?P<collection>[^/]+)/(?P<rkey>[^/?#]+)$")
TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")


def _tid(value: int) -> str:
    chars = []
    for _ in range(13):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def rkey_for(idempotency_key: str) -> str:
    """The record key of the post made under ``idempotency_key``: same key, same rkey."""
    digest = hashlib.sha256(b"kairos/bluesky/rkey\x00" + idempotency_key.encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    timestamp = _EPOCH_US + (number >> (64 - _WINDOW_BITS))
    clock_id = number & 0x3FF
    return _tid((timestamp << 10) | clock_id)


def at_uri(did: str, rkey: str, collection: str = POST) -> str:
    return f"at://{did}/{collection}/{rkey}"


def parse_at_uri(uri: str) -> tuple[str, str, str]:
    """``(repo, collection, rkey)`` of an ``at://`` record URI; ``ValueError`` otherwise."""
    match = _AT_URI.match(uri or "")
    if not match:
        raise ValueError(f"not an at:// record URI: {uri!r}")
    return match["repo"], match["collection"], match["rkey"]


def post_url(did: str, rkey: str) -> str:
    """Where a person sees the post in Bluesky's web app (by DID: handles change)."""
    return f"https://bsky.app/profile/{did}/post/{rkey}"


def created_at(when: datetime | None = None) -> str:
    """A record's ``createdAt``: ISO 8601 in UTC with milliseconds and ``Z``, as apps write it."""
    when = (when or datetime.now(UTC)).astimezone(UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
