"""Validators shared by models, admin forms and API serializers, so every door checks the same."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError

from calendar_app.recurrence import rule_problems

_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
MAX_TAGS = 50
#: Moments on a content calendar repeat daily at most; finer rules would expand into thousands of
#: occurrences per request.
REFUSED_FREQUENCIES = frozenset({"SECONDLY", "MINUTELY", "HOURLY"})
MAX_TAG_LENGTH = 60


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in _time_zones():
        raise ValidationError(
            "%(value)s is not an IANA time zone (for example Europe/Paris or America/New_York).",
            code="invalid_time_zone",
            params={"value": value},
        )


def validate_language(value: str) -> None:
    if not _LANGUAGE.match(value or ""):
        raise ValidationError(
            "%(value)s is not a language tag (for example en, fr or pt-BR).",
            code="invalid_language",
            params={"value": value},
        )


def contains_nul(value: Any) -> bool:
    """True when a NUL character hides anywhere in a JSON-like value (keys included).

    PostgreSQL cannot store NUL in text or jsonb; refusing it here turns what would be a
    database error into a field message, the same on SQLite as on PostgreSQL.
    """
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(contains_nul(v) for v in value)
    return False


def validate_no_nul(value: Any) -> None:
    if contains_nul(value):
        raise ValidationError(
            "Null characters are not allowed.", code="null_characters_not_permitted"
        )


def validate_tag_list(value: Any) -> None:
    """Themes, values and audiences: a short list of short strings."""
    validate_no_nul(value)
    if not isinstance(value, list):
        raise ValidationError("Must be a list of strings.", code="invalid_tags")
    if len(value) > MAX_TAGS:
        raise ValidationError(f"At most {MAX_TAGS} entries.", code="too_many_tags")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValidationError("Every entry must be a non-empty string.", code="invalid_tags")
        if len(item) > MAX_TAG_LENGTH:
            raise ValidationError(
                f"Entries are at most {MAX_TAG_LENGTH} characters.", code="tag_too_long"
            )


def validate_string_list(value: Any) -> None:
    validate_no_nul(value)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("Must be a list of strings.", code="invalid_list")
    if len(value) > 20:
        raise ValidationError("At most 20 entries.", code="too_many")


def validate_rrule(value: str) -> None:
    """An RFC 5545 RRULE (the part after ``RRULE:``) within Kairos's bounds.

    The text-only half of :func:`calendar_app.recurrence.event_problems` (the model, the admin,
    the API and the ``.ics`` import also check the rule against the event's dates): daily to
    yearly, a positive ``INTERVAL``, a bounded number of occurrences a day, short lists.
    """
    if not value:
        return
    problems = rule_problems(value)
    if problems:
        code = "rrule_too_long" if len(value) > 500 else "invalid_rrule"
        raise ValidationError([ValidationError(message, code=code) for message in problems])


def validate_profile(value: Any) -> None:
    """A brand profile: ``{"themes": [...], "values": [...], "audience": [...], "avoid": [...]}``."""
    if not isinstance(value, dict):
        raise ValidationError("The profile must be an object.", code="invalid_profile")
    validate_no_nul(value)
    allowed = {"themes", "values", "audience", "avoid"}
    unknown = set(value) - allowed
    if unknown:
        raise ValidationError(
            "Unknown profile keys: %(keys)s (allowed: themes, values, audience, avoid).",
            code="invalid_profile",
            params={"keys": ", ".join(sorted(unknown))},
        )
    for key in allowed & set(value):
        try:
            validate_tag_list(value[key])
        except ValidationError as exc:
            raise ValidationError(f"{key}: {exc.messages[0]}", code=exc.code) from exc


def validate_json_object(value: Any) -> None:
    if not isinstance(value, dict):
        raise ValidationError("Must be a JSON object.", code="invalid_object")
    validate_no_nul(value)


def without_cta_problem(
    without_cta: bool, cta_text: str, cta_url: str, experiment_id: int | None
) -> str | None:
    """Why a post marked "no call to action" contradicts itself, or ``None``.

    The mark exists for posts that must not sell (an apology, a holding statement in a crisis);
    one that also carries a call to action, or an experiment whose variants are calls to action,
    would go out with one anyway, so the contradiction is refused where it is made.
    """
    if not without_cta:
        return None
    if cta_text or cta_url:
        return "A post without a call to action cannot have one: clear the call to action first."
    if experiment_id is not None:
        return "An experiment tests calls to action: a post in one cannot go without one."
    return None
