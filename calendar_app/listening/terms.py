"""Watch terms: what a person may watch, and whether a text mentions it.

A term is a word, a phrase or a ``#hashtag`` (or ``@handle``), matched case-insensitively on
word boundaries, so ``acme`` matches "Acme's new phone" and not "acmeology". A term that would
match (nearly) everything - too short, a stop word, wildcards, only punctuation - is refused with
a message on the field, because a watch that matches everything makes every window a "surge".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["MAX_TERMS", "matches", "term_problems"]

MAX_TERMS = 20
MAX_TERM_LENGTH = 100
MIN_TERM_LETTERS = 3
#: Words so common in English and French posts that watching them watches everything.
STOP_WORDS = frozenset(
    [
        "the",
        "and",
        "you",
        "for",
        "are",
        "but",
        "not",
        "with",
        "this",
        "that",
        "have",
        "from",
        "they",
        "your",
        "all",
        "was",
        "what",
        "les",
        "des",
        "une",
        "est",
        "pas",
        "que",
        "qui",
        "pour",
        "dans",
        "sur",
        "avec",
        "mais",
        "vous",
        "nous",
        "sont",
        "tout",
        "plus",
        "http",
        "https",
        "www",
        "com",
    ]
)


def term_problems(terms: object) -> list[str]:
    """Why ``terms`` cannot be watched (one sentence each); empty when they can."""
    if not isinstance(terms, list) or not terms:
        return ["Give a list of one or more terms."]
    if len(terms) > MAX_TERMS:
        return [f"At most {MAX_TERMS} terms per watch."]
    problems = []
    for term in terms:
        if not isinstance(term, str):
            problems.append("Every term must be text.")
            continue
        shown = term[:40]
        if "\x00" in term or len(term) > MAX_TERM_LENGTH:
            problems.append(f"{shown!r} is too long or holds a NUL character.")
            continue
        letters = re.sub(r"[\W_]", "", term)
        if "*" in term or "%" in term:
            problems.append(f"{shown!r}: wildcards are not supported; list the words instead.")
        elif len(letters) < MIN_TERM_LETTERS:
            problems.append(f"{shown!r} is too short: it would match almost every post.")
        elif term.strip().lower().lstrip("#@") in STOP_WORDS:
            problems.append(f"{shown!r} is too common: it would match almost every post.")
    return problems


@lru_cache(maxsize=1024)
def _pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    parts = [re.escape(t.strip()) for t in terms if isinstance(t, str) and t.strip()]
    if not parts:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


def matches(terms: Iterable[str], text: str) -> bool:
    """Whether ``text`` mentions any of ``terms``."""
    pattern = _pattern(tuple(terms or ()))
    return bool(pattern and text and pattern.search(text))
