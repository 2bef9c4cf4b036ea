"""Rich-text facets: which bytes of a post are a link, a mention or a hashtag.

Bluesky stores a post as plain text plus *facets*, each naming a range of the text by **UTF-8
byte** offsets (``byteStart`` inclusive, ``byteEnd`` exclusive) - not characters, not UTF-16
units - so an emoji or an accented letter before a link shifts the link's range by 4 or 2 bytes,
not by one. Getting this wrong makes apps underline the wrong characters.

Mentions become facets only when the handle resolves to a DID (an unknown ``@name.example``
stays plain text, as in Bluesky's apps); hashtags are words after ``#`` that are not only digits,
without trailing punctuation, at most 64 graphemes long.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import regex

from plugins.bluesky.text import Composed, grapheme_length

__all__ = ["Facet", "build_facets", "byte_offsets", "find_mentions", "find_tags"]

LINK = "app.bsky.richtext.facet#link"
MENTION = "app.bsky.richtext.facet#mention"
TAG = "app.bsky.richtext.facet#tag"
MAX_TAG_GRAPHEMES = 64

_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
# A handle is a domain name with a dot and a letter-first top-level label; after a start of
# line, a space or an opening parenthesis.
_MENTION = regex.compile(
    rf"(?:^|(?<=[\s(]))@((?:{_LABEL}\.)+[a-zA-Z](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)"
)
# ``#`` or the full-width number sign (U+FF03), not followed by the emoji variation selector (keycap #️⃣).
_INVISIBLE = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_TAG = regex.compile(rf"(?:^|(?<=\s))[#\uff03](?!\ufe0f)([^\s{_INVISIBLE}#\uff03]+)")
_TAG_TAIL = regex.compile(r"\p{P}+$")


@dataclass(frozen=True, slots=True)
class Facet:
    """One facet by character index (converted to bytes when serialised)."""

    start: int
    end: int
    kind: str
    value: str

    def feature(self) -> dict[str, str]:
        key = {LINK: "uri", MENTION: "did", TAG: "tag"}[self.kind]
        return {"$type": self.kind, key: self.value}


def byte_offsets(text: str) -> list[int]:
    """``offsets[i]`` is the UTF-8 byte offset of character ``i`` (and ``offsets[len(text)]``
    the text's size), so any character range converts in O(1)."""
    offsets = [0] * (len(text) + 1)
    total = 0
    for index, char in enumerate(text):
        offsets[index] = total
        total += len(char.encode("utf-8", "surrogatepass"))
    offsets[len(text)] = total
    return offsets


def find_mentions(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, handle)`` of each ``@handle``; the range includes the ``@``."""
    found = []
    for match in _MENTION.finditer(text):
        handle = match.group(1).rstrip(".")
        found.append((match.start(), match.start() + 1 + len(handle), handle.lower()))
    return found


def find_tags(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, tag)`` of each hashtag; the range includes the ``#``, the tag does not."""
    found = []
    for match in _TAG.finditer(text):
        tag = _TAG_TAIL.sub("", match.group(1))
        if not tag or tag.isdigit() or grapheme_length(tag) > MAX_TAG_GRAPHEMES:
            continue
        found.append((match.start(), match.start() + 1 + len(tag), tag))
    return found


def _overlaps(start: int, end: int, taken: Iterable[tuple[int, int]]) -> bool:
    return any(start < t_end and t_start < end for t_start, t_end in taken)


def build_facets(
    composed: Composed, resolve_handle: Callable[[str], str | None]
) -> list[dict[str, Any]]:
    """The ``facets`` of a post record for ``composed``: its links, the mentions
    ``resolve_handle`` (handle -> DID or ``None``) knows, and its hashtags, by byte range."""
    facets = [Facet(link.start, link.end, LINK, link.uri) for link in composed.links]
    taken = [(f.start, f.end) for f in facets]
    for start, end, handle in find_mentions(composed.text):
        if _overlaps(start, end, taken):
            continue
        did = resolve_handle(handle)
        if did:
            facets.append(Facet(start, end, MENTION, did))
            taken.append((start, end))
    for start, end, tag in find_tags(composed.text):
        if not _overlaps(start, end, taken):
            facets.append(Facet(start, end, TAG, tag))
            taken.append((start, end))
    offsets = byte_offsets(composed.text)
    return [
        {
            "index": {"byteStart": offsets[f.start], "byteEnd": offsets[f.end]},
            "features": [f.feature()],
        }
        for f in sorted(facets, key=lambda f: f.start)
    ]
