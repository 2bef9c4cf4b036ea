"""Input validation and metric definitions."""

import numpy as np
import pytest

from calendar_app.analysis import ArmCounts, ArmTotals, Metric, arm_counts_for_metric
from calendar_app.analysis.counts import StratumCounts, strata_for_metric


def test_successes_above_exposures_names_the_arm():
    with pytest.raises(ValueError, match=r"arm 'variant-b'.*cannot exceed"):
        ArmCounts("variant-b", 10, 11)


@pytest.mark.parametrize(
    ("exposures", "successes"), [(-1, 0), (5, -2), (1.5, 1), ("7", 1), (True, 0)]
)
def test_bad_counts_are_rejected_with_the_arm_name(exposures, successes):
    with pytest.raises(ValueError, match="arm 'x'"):
        ArmCounts("x", exposures, successes)


def test_numpy_integers_are_accepted_and_converted():
    arm = ArmCounts("a", np.int64(10), np.int32(3))
    assert type(arm.exposures) is int and arm.rate == pytest.approx(0.3)


def test_zero_exposures_has_no_rate():
    assert ArmCounts("a", 0, 0).rate is None


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        (Metric.CLICK_THROUGH, (1000, 50)),
        (Metric.CONVERSION, (50, 5)),
        (Metric.CONVERSION_PER_IMPRESSION, (1000, 5)),
        ("conversion", (50, 5)),
    ],
)
def test_metric_helper_picks_numerator_and_denominator(metric, expected):
    (arm,) = arm_counts_for_metric(
        [ArmTotals("a", impressions=1000, clicks=50, conversions=5)], metric
    )
    assert (arm.exposures, arm.successes) == expected


def test_metric_helper_rejects_inconsistent_totals_for_the_chosen_metric():
    totals = [ArmTotals("promo", impressions=10, clicks=3, conversions=7)]
    assert arm_counts_for_metric(totals, Metric.CONVERSION_PER_IMPRESSION)[0].successes == 7
    with pytest.raises(ValueError, match="'promo'"):
        arm_counts_for_metric(totals, Metric.CONVERSION)


def test_strata_helper_and_missing_arm_counts_as_empty():
    (stratum,) = strata_for_metric(
        [("mastodon", [ArmTotals("a", impressions=10, clicks=1)])], Metric.CLICK_THROUGH
    )
    assert stratum.arm("a") == ArmCounts("a", 10, 1)
    assert stratum.arm("b") == ArmCounts("b", 0, 0)
    with pytest.raises(ValueError, match="duplicate"):
        StratumCounts("x", (ArmCounts("a", 1, 0), ArmCounts("a", 1, 0)))
