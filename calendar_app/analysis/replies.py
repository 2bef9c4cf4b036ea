"""Replies per variant: how many people answered each arm, and in what tone.

Pure functions over counts, like the rest of :mod:`calendar_app.analysis`: the listening
package counts stored replies per variant and tone, this module turns them into rates. A reply
rate here is replies per delivered publication (what a team compares between two wordings of
the same call to action); the reply metric read from the network (``MetricSnapshot.replies``)
stays the one the A/B decision uses, because listening may not see every reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["VariantReplies", "reply_summary"]

TONES = ("positive", "neutral", "negative")


@dataclass(frozen=True, slots=True)
class VariantReplies:
    publications: int
    replies: int
    by_tone: Mapping[str, int]

    @property
    def replies_per_publication(self) -> float | None:
        return self.replies / self.publications if self.publications else None

    def share(self, tone: str) -> float | None:
        return self.by_tone.get(tone, 0) / self.replies if self.replies else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "publications": self.publications,
            "replies": self.replies,
            "replies_per_publication": self.replies_per_publication,
            "by_tone": {t: self.by_tone.get(t, 0) for t in TONES},
            "negative_share": self.share("negative"),
            "positive_share": self.share("positive"),
        }


def reply_summary(publications: int, by_tone: Mapping[str, int]) -> VariantReplies:
    """Counts to rates; unknown tones are ignored, negative counts refused."""
    if publications < 0 or any(n < 0 for n in by_tone.values()):
        raise ValueError("counts must be >= 0")
    kept = {t: int(by_tone.get(t, 0)) for t in TONES}
    return VariantReplies(publications, sum(kept.values()), kept)
