"""Counting a post as X counts it: weighted characters, every URL as 23.

X does not count code points: most Latin, Greek, Cyrillic and punctuation characters weigh 1,
CJK characters and emoji weigh 2, and any URL weighs 23 whatever its length (it is shortened to
t.co). The rules live in X's open-source ``twitter-text`` configuration (version 3); the
``twitter-text-parser`` package implements them, so Kairos does not keep its own copy of the
ranges. 280 weighted characters is the limit for accounts without a subscription.
"""

from __future__ import annotations

from twitter_text import parse_tweet

__all__ = ["MAX_WEIGHTED_LENGTH", "weighted_length"]

MAX_WEIGHTED_LENGTH = 280


def weighted_length(text: str) -> int:
    """The length X counts for ``text``."""
    return int(parse_tweet(text).weightedLength)
