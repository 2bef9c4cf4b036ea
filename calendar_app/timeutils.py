"""Wall-clock times in a brand's zone, turned into UTC instants without guessing silently.

Marketers think "Tuesday 09:00 in Paris"; the database stores UTC. Two local times need care:
a time inside the spring gap (02:30 on the day clocks go forward) does not exist and is refused
with a message; a time in the autumn overlap (02:30 happens twice) takes the first of the two,
as most calendar software does, unless the caller says otherwise with ``fold=1``.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime

from django.core.exceptions import ValidationError


def local_to_utc(value: datetime, time_zone: str, *, fold: int = 0) -> datetime:
    """UTC instant for ``value``; naive values are wall-clock times in ``time_zone``."""
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    tz = zoneinfo.ZoneInfo(time_zone)
    candidate = value.replace(tzinfo=tz, fold=fold)
    round_trip = candidate.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if round_trip != value:
        raise ValidationError(
            "%(time)s does not exist in %(zone)s: the clocks move forward then. Pick a time after the change.",
            code="nonexistent_local_time",
            params={"time": value.strftime("%Y-%m-%d %H:%M"), "zone": time_zone},
        )
    return candidate.astimezone(UTC)


def is_ambiguous(value: datetime, time_zone: str) -> bool:
    """True when a naive wall-clock time happens twice (the hour clocks go back)."""
    tz = zoneinfo.ZoneInfo(time_zone)
    return (
        value.replace(tzinfo=tz, fold=0).utcoffset() != value.replace(tzinfo=tz, fold=1).utcoffset()
    )


def in_zone(value: datetime, time_zone: str) -> datetime:
    return value.astimezone(zoneinfo.ZoneInfo(time_zone))
