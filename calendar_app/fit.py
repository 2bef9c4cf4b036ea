"""Brand fit: how legitimate an event is for a brand, as a score from 0 to 100 with reasons.

Real-time marketing pays when the moment belongs to the brand: a car maker's post at an
agricultural fair works because it ties rural life to the car's promise; a cosmetics brand posting
during a football final is noise. The score is deliberately simple and explainable, so that a
marketer can read *why* and overrule it with a note:

* **themes** (weight 60): how many of the event's themes the brand's themes cover; an exact match
  counts 1, a related one (same family in :data:`RELATED`) counts 0.5;
* **audience** (weight 30): the same for the audience tags;
* **values** (weight 10): brand values echoed in the event's themes;
* **avoid**: every event theme the brand avoids (politics, tragedy…) takes 40 points off.

Each part is the share of the event's tags that the brand covers (capped at 1), so an event with
many themes is not rewarded for quantity. Pure functions over plain values, no ORM.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

THEME_WEIGHT = 60
AUDIENCE_WEIGHT = 30
VALUES_WEIGHT = 10
AVOID_PENALTY = 40
RELATED_CREDIT = 0.5

#: Families of related tags. A tag may belong to several families.
RELATED: tuple[frozenset[str], ...] = tuple(
    frozenset(family)
    for family in [
        {"fashion", "beauty", "style", "cosmetics", "luxury", "design", "makeup", "skincare"},
        {
            "sport",
            "football",
            "american football",
            "soccer",
            "basketball",
            "tennis",
            "cycling",
            "motorsport",
            "olympics",
        },
        {"motorsport", "automotive", "cars", "mobility", "engineering"},
        {"agriculture", "rural", "farming", "countryside", "outdoors", "food"},
        {"food", "snacks", "cooking", "gastronomy", "drinks"},
        {"music", "entertainment", "festival", "culture", "film", "cinema", "awards"},
        {"technology", "innovation", "gadgets", "engineering", "ai"},
        {"family", "kids", "parents", "holidays", "home"},
        {"sustainability", "environment", "climate", "outdoors", "nature"},
        {"gaming", "esports", "entertainment"},
        {"celebration", "holidays", "party", "gifts", "festival"},
        {"romance", "gifts", "celebration"},
    ]
)


def normalise(tag: str) -> str:
    """Lowercase, trim, fold simple English plurals ("cars" and "car" match)."""
    text = " ".join(tag.lower().replace("_", " ").replace("-", " ").split())
    if len(text) > 3 and text.endswith("s") and not text.endswith("ss"):
        text = text[:-1]
    return text


_NORMALISED_RELATED = tuple(frozenset(normalise(t) for t in family) for family in RELATED)


def related(a: str, b: str) -> bool:
    return any(a in family and b in family for family in _NORMALISED_RELATED)


@dataclass(frozen=True, slots=True)
class Profile:
    themes: Sequence[str] = ()
    values: Sequence[str] = ()
    audience: Sequence[str] = ()
    avoid: Sequence[str] = ()

    @classmethod
    def from_dict(cls, data: dict | None) -> Profile:
        data = data or {}
        return cls(
            **{key: tuple(data.get(key, ())) for key in ("themes", "values", "audience", "avoid")}
        )


@dataclass(frozen=True, slots=True)
class FitResult:
    score: int
    reasons: list[str] = field(default_factory=list)


def _coverage(
    event_tags: Iterable[str], brand_tags: Iterable[str]
) -> tuple[float, list[str], list[str]]:
    """Share of event tags matched by brand tags, with the exact and related matches named as the
    people who typed them spelled them."""
    event = {normalise(t): t.strip() for t in event_tags}
    brand = {normalise(t): t.strip() for t in brand_tags}
    if not event or not brand:
        return 0.0, [], []
    exact, near, credit = [], [], 0.0
    for key in sorted(event):
        if key in brand:
            exact.append(event[key])
            credit += 1.0
        else:
            partner = next((b for b in sorted(brand) if related(key, b)), None)
            if partner is not None:
                near.append(f"{event[key]} ~ {brand[partner]}")
                credit += RELATED_CREDIT
    return min(1.0, credit / len(event)), exact, near


def score(profile: Profile, *, themes: Sequence[str], audience: Sequence[str]) -> FitResult:
    """Score an event (its ``themes`` and ``audience``) against a brand ``profile``."""
    reasons: list[str] = []
    theme_share, theme_exact, theme_near = _coverage(themes, profile.themes)
    audience_share, audience_exact, audience_near = _coverage(audience, profile.audience)
    values_share, values_exact, values_near = _coverage(themes, profile.values)

    if theme_exact:
        reasons.append("Shared themes: " + ", ".join(theme_exact) + ".")
    if theme_near:
        reasons.append("Related themes: " + ", ".join(theme_near) + ".")
    if not theme_exact and not theme_near:
        reasons.append("No theme of the event is one of the brand's.")
    if audience_exact or audience_near:
        reasons.append("Audience overlap: " + ", ".join(audience_exact + audience_near) + ".")
    elif audience:
        reasons.append("The event's audience is not the brand's.")
    if values_exact or values_near:
        reasons.append("Echoes brand values: " + ", ".join(values_exact + values_near) + ".")

    total = (
        THEME_WEIGHT * theme_share + AUDIENCE_WEIGHT * audience_share + VALUES_WEIGHT * values_share
    )
    avoided = sorted({normalise(t) for t in themes} & {normalise(a) for a in profile.avoid})
    if avoided:
        total -= AVOID_PENALTY * len(avoided)
        reasons.append("Touches themes the brand avoids: " + ", ".join(avoided) + ".")
    final = max(0, min(100, round(total)))
    reasons.insert(
        0, f"Themes {theme_share:.0%}, audience {audience_share:.0%}, values {values_share:.0%}."
    )
    return FitResult(score=final, reasons=reasons)


def score_event_for_brand(brand, event) -> FitResult:
    return score(Profile.from_dict(brand.profile), themes=event.themes, audience=event.audience)
