"""Input types for the A/B analysis: counts per arm, per stratum, and metric definitions.

Everything in :mod:`calendar_app.analysis` works on *counts* (how many exposures, how many
successes) rather than on rows, so the statistics stay pure functions that can be tested
without a database and called from the API, the admin or a notebook alike.

Validation happens here, once, so that every later module can rely on clean input: counts are
non-negative integers and an arm never has more successes than exposures. A bad arm raises a
:class:`ValueError` that names the arm, because the caller usually has many arms and needs to
know which one carries the broken number.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "ArmCounts",
    "ArmTotals",
    "Metric",
    "StratumCounts",
    "arm_counts_for_metric",
    "strata_for_metric",
]


def _count(value: object, *, arm: str, field: str) -> int:
    """Return ``value`` as a non-negative ``int`` or raise a ``ValueError`` naming the arm.

    ``bool`` is refused on purpose (``True`` is an ``int`` in Python but never a count); numpy
    integers are accepted through ``operator.index``.
    """
    if isinstance(value, bool):
        raise ValueError(f"arm {arm!r}: {field} must be an integer count, got {value!r}")
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"arm {arm!r}: {field} must be an integer count, got {value!r}") from None
    if number < 0:
        raise ValueError(f"arm {arm!r}: {field} must be >= 0, got {number}")
    return number


class Metric(StrEnum):
    """The rates an experiment can be judged by, each a ``numerator / denominator`` of totals.

    The denominator is the *exposure* (the trial count) and the numerator the *success*.
    """

    CLICK_THROUGH = "click_through"
    """clicks / impressions"""
    CONVERSION = "conversion"
    """conversions / clicks (of the people who clicked, how many converted)"""
    CONVERSION_PER_IMPRESSION = "conversion_per_impression"
    """conversions / impressions"""

    @property
    def fields(self) -> tuple[str, str]:
        """``(exposure_field, success_field)`` on :class:`ArmTotals`."""
        return _METRIC_FIELDS[self]


_METRIC_FIELDS: dict[Metric, tuple[str, str]] = {
    Metric.CLICK_THROUGH: ("impressions", "clicks"),
    Metric.CONVERSION: ("clicks", "conversions"),
    Metric.CONVERSION_PER_IMPRESSION: ("impressions", "conversions"),
}


@dataclass(frozen=True, slots=True)
class ArmCounts:
    """Exposures and successes of one arm for the chosen metric.

    Validated on construction so a broken count is caught at the boundary, with the arm's key
    in the message.

    ``clusters`` (optional) are the ``(exposures, successes)`` of each unit of randomisation
    behind the arm — for Kairos, each publication of the variant. When given they must add up
    to the arm's totals, and :func:`~calendar_app.analysis.analyse` then runs every method on
    cluster-robust effective counts (see :mod:`calendar_app.analysis.clustering`). Without them
    every exposure is treated as an independent trial, as before.
    """

    key: str
    exposures: int
    successes: int
    clusters: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self) -> None:
        exposures = _count(self.exposures, arm=self.key, field="exposures")
        successes = _count(self.successes, arm=self.key, field="successes")
        if successes > exposures:
            raise ValueError(
                f"arm {self.key!r}: successes ({successes}) cannot exceed exposures ({exposures})"
            )
        object.__setattr__(self, "exposures", exposures)
        object.__setattr__(self, "successes", successes)
        if self.clusters is not None:
            object.__setattr__(self, "clusters", self._checked_clusters(exposures, successes))

    def _checked_clusters(self, exposures: int, successes: int) -> tuple[tuple[int, int], ...]:
        clusters = []
        for index, unit in enumerate(self.clusters or ()):
            try:
                n, s = unit
            except (TypeError, ValueError):
                raise ValueError(
                    f"arm {self.key!r}: cluster {index} must be an (exposures, successes) pair,"
                    f" got {unit!r}"
                ) from None
            n = _count(n, arm=self.key, field=f"cluster {index} exposures")
            s = _count(s, arm=self.key, field=f"cluster {index} successes")
            if s > n:
                raise ValueError(
                    f"arm {self.key!r}: cluster {index} has more successes ({s}) than "
                    f"exposures ({n})"
                )
            clusters.append((n, s))
        total_n, total_s = sum(c[0] for c in clusters), sum(c[1] for c in clusters)
        if (total_n, total_s) != (exposures, successes):
            raise ValueError(
                f"arm {self.key!r}: clusters add up to {total_s}/{total_n}, "
                f"but the arm has {successes}/{exposures}"
            )
        return tuple(clusters)

    @property
    def failures(self) -> int:
        return self.exposures - self.successes

    @property
    def rate(self) -> float | None:
        """Observed rate, or ``None`` when the arm has no exposures (0/0 is not a rate)."""
        return self.successes / self.exposures if self.exposures else None


@dataclass(frozen=True, slots=True)
class ArmTotals:
    """Raw engagement totals of one arm, as summed from metric snapshots and tracked links.

    Clicks may not exceed impressions and conversions may not exceed clicks *for the metric
    that uses them*; that check is done by :func:`arm_counts_for_metric` through
    :class:`ArmCounts`, because networks sometimes report conversions without clicks and a
    click-through analysis should not fail on an unrelated inconsistency.
    """

    key: str
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0

    def __post_init__(self) -> None:
        for name in ("impressions", "clicks", "conversions"):
            object.__setattr__(self, name, _count(getattr(self, name), arm=self.key, field=name))


def arm_counts_for_metric(
    totals: Iterable[ArmTotals], metric: Metric | str
) -> tuple[ArmCounts, ...]:
    """Turn per-arm totals of impressions/clicks/conversions into :class:`ArmCounts`.

    ``metric`` selects the ratio: click-through = clicks/impressions, conversion =
    conversions/clicks, conversion per impression = conversions/impressions.
    """
    exposure_field, success_field = Metric(metric).fields
    return tuple(
        ArmCounts(t.key, getattr(t, exposure_field), getattr(t, success_field)) for t in totals
    )


@dataclass(frozen=True, slots=True)
class StratumCounts:
    """The arms' counts within one stratum (for Kairos: one network, e.g. ``"mastodon"``)."""

    stratum: str
    arms: tuple[ArmCounts, ...]

    def __post_init__(self) -> None:
        arms = tuple(self.arms)
        keys = [a.key for a in arms]
        if len(set(keys)) != len(keys):
            raise ValueError(f"stratum {self.stratum!r}: duplicate arm keys {keys}")
        object.__setattr__(self, "arms", arms)

    def arm(self, key: str) -> ArmCounts:
        """The counts of arm ``key``; an arm absent from this stratum counts as 0/0."""
        for a in self.arms:
            if a.key == key:
                return a
        return ArmCounts(key, 0, 0)


def strata_for_metric(
    totals_by_stratum: Iterable[tuple[str, Sequence[ArmTotals]]], metric: Metric | str
) -> tuple[StratumCounts, ...]:
    """Per-stratum version of :func:`arm_counts_for_metric`."""
    return tuple(
        StratumCounts(stratum, arm_counts_for_metric(totals, metric))
        for stratum, totals in totals_by_stratum
    )
