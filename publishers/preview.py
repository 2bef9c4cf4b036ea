"""What a person sees before anything goes out: the exact text a network will receive, counted
the way that network counts it.

A preview is the network's own answer (:meth:`publishers.Network.preview`), not a guess by the
host: Bluesky shortens links for display and counts graphemes, Mastodon counts every link as 23
characters, an email has a subject. The default - the text a text-only network posts, counted by
code point with URLs as :attr:`Capabilities.characters_per_url` - suits most networks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["LengthUnit", "PostPreview"]

LengthUnit = Literal["characters", "graphemes", "bytes"]


@dataclass(frozen=True, slots=True)
class PostPreview:
    """One post (one part of a thread) as the network will receive it.

    :ivar text: the text, placeholders filled, call to action and links as they will appear.
    :ivar length: its length as the network counts it, in ``unit``.
    :ivar limit: the most the network (or this channel's server) allows, ``None`` if unlimited.
    :ivar subject: a subject line, for networks that have one (email).
    """

    text: str
    length: int
    limit: int | None
    unit: LengthUnit = "characters"
    subject: str = ""

    def __post_init__(self) -> None:
        if self.length < 0:
            raise ValueError(f"length must be non-negative, got {self.length!r}")
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"limit must be non-negative or None, got {self.limit!r}")

    @property
    def over_by(self) -> int:
        """How many units must go for the post to fit (0 when it fits)."""
        return 0 if self.limit is None else max(self.length - self.limit, 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "subject": self.subject,
            "length": self.length,
            "limit": self.limit,
            "unit": self.unit,
            "over_by": self.over_by,
        }
