"""The text of a Bluesky post: what is shown, how long Bluesky thinks it is, where the links are.

Bluesky limits a post to 300 *graphemes* (what a reader sees as one character: a flag, a family
emoji, an accented letter written as two code points) and 3,000 UTF-8 bytes, and the PDS refuses
a record over either. Graphemes are counted with the ``regex`` module's ``\\X`` (Unicode extended
grapheme clusters, as the PDS's lexicon validator counts them).

Links are shown shortened, as Bluesky's own apps show them (``example.com/spring-sa...``): the
text holds the short form, and a link facet over it keeps the full URL, so a long tracking link
costs a reader a few graphemes but loses nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import regex

from publishers import Post, text_with_links

__all__ = [
    "MAX_BYTES",
    "MAX_GRAPHEMES",
    "Composed",
    "LinkSpan",
    "compose",
    "find_urls",
    "grapheme_length",
    "short_url",
]

MAX_GRAPHEMES = 300
MAX_BYTES = 3000
#: Path characters kept before a shortened link is cut (Bluesky's apps keep about as many).
SHORT_PATH = 15

_GRAPHEME = regex.compile(r"\X")
_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\"…"


def grapheme_length(text: str) -> int:
    """Graphemes in ``text``, as Bluesky counts them."""
    return sum(1 for _ in _GRAPHEME.finditer(text))


def _trim(url: str) -> str:
    """A URL without the punctuation that ends the sentence around it (a closing parenthesis
    only when it has no opening one inside the URL, as in ``(see https://x.org/a)``)."""
    while url:
        last = url[-1]
        if last in _TRAILING or (last == ")" and url.count("(") < url.count(")")):
            url = url[:-1]
            continue
        break
    return url


def find_urls(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, url)`` of every http(s) URL in ``text``, by character index."""
    found = []
    for match in _URL.finditer(text):
        url = _trim(match.group(0))
        if len(url) > len("https://") and urlsplit(url).hostname:
            found.append((match.start(), match.start() + len(url), url))
    return found


def short_url(url: str) -> str:
    """How Bluesky's apps show ``url``: without the scheme, the path cut after a few characters."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return url
    path = "" if parts.path == "/" else parts.path
    if parts.query:
        path += "?" + parts.query
    if parts.fragment:
        path += "#" + parts.fragment
    if len(path) > SHORT_PATH:
        path = path[: SHORT_PATH - 2] + "..."
    return parts.netloc + path


@dataclass(frozen=True, slots=True)
class LinkSpan:
    """A link in the composed text: characters ``start``-``end`` show ``uri``."""

    start: int
    end: int
    uri: str


@dataclass(frozen=True, slots=True)
class Composed:
    """The text to post and where its links are."""

    text: str
    links: tuple[LinkSpan, ...]

    @property
    def graphemes(self) -> int:
        return grapheme_length(self.text)

    @property
    def size(self) -> int:
        return len(self.text.encode("utf-8"))


def compose(post: Post, *, shorten_links: bool = True) -> Composed:
    """The text of ``post`` as Bluesky shows it: body, call to action and the links not already
    in the text (:func:`publishers.text_with_links`), every URL shortened for display."""
    raw = text_with_links(post)
    pieces: list[str] = []
    links: list[LinkSpan] = []
    cursor = position = 0
    for start, end, url in find_urls(raw):
        pieces.append(raw[cursor:start])
        position += start - cursor
        shown = short_url(url) if shorten_links else url
        pieces.append(shown)
        links.append(LinkSpan(position, position + len(shown), url))
        position += len(shown)
        cursor = end
    pieces.append(raw[cursor:])
    return Composed("".join(pieces), tuple(links))
