"""Every row of the edge-case table in docs/ab-method.md, one test each.

``test_every_row_of_the_doc_table_has_a_test`` reads the table from the document and fails if a
row has no test here (or a test names a row the document no longer has), so the table and the
code cannot drift apart.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from calendar_app.analysis import (
    ArmCounts,
    MinimumDetectableEffect,
    StratumCounts,
    analyse,
)
from calendar_app.analysis.frequentist import compare_fixed, fixed_horizon

DOC = Path(__file__).resolve().parents[2] / "docs" / "ab-method.md"
HALF = {"a": 1, "b": 1}


def run(a, b, **kwargs):
    params = dict(control="a", metric_name="click-through rate", planned_weights=HALF, mde=0.1)
    params.update(kwargs)
    return analyse([ArmCounts("a", *a), ArmCounts("b", *b)], **params)


def test_bad_counts():
    for bad in ((10, 11), (-1, 0), (10.5, 1), (True, 0)):
        with pytest.raises(ValueError, match="arm 'x'"):
            ArmCounts("x", *bad)


def test_arm_without_exposures():
    report = run((10_000, 140), (0, 0))
    data = report.to_dict()
    (freq,) = data["frequentist"]
    assert freq["method"] == "insufficient_data" and freq["difference"] is None
    assert "'b' has no exposures" in freq["reason"]
    (seq,) = data["confidence_sequences"]
    assert seq["estimate"] is None and seq["lower"] is None and seq["p_value"] is None
    assert "no exposures" in seq["reason"]
    (bayes,) = data["bayesian"]["comparisons"]
    assert bayes["chance_to_beat_control"] is None and bayes["difference_lower"] is None
    assert "no exposures" in bayes["reason"]
    arms = {a["key"]: a for a in data["arms"]}
    assert arms["b"]["rate"] is None and arms["b"]["chance_to_be_best"] is None
    assert arms["b"]["expected_loss"] is None and "no exposures" in arms["b"]["reason"]
    # the control has nobody to be compared with: no chance, no loss against the prior's 50%
    assert arms["a"]["chance_to_be_best"] is None and arms["a"]["expected_loss"] is None
    assert data["decision"]["action"] in ("keep_running", "srm")
    balanced = run((50, 1), (0, 0), allocation_counts={"a": 50, "b": 50})
    assert balanced.decision.action == "keep_running"
    assert "nothing is computed for it" in balanced.decision.sentence


def test_zero_or_all_successes():
    control, challenger = ArmCounts("a", 10_000, 500), ArmCounts("b", 10_000, 0)
    result = compare_fixed(control, challenger)
    assert result.method == "fisher_exact" and result.agrees
    assert -1 <= result.difference_lower < result.difference < result.difference_upper < 0
    assert compare_fixed(ArmCounts("a", 300, 300), ArmCounts("b", 300, 280)).method == (
        "fisher_exact"
    )
    report = run((10_000, 0), (10_000, 0))
    assert report.confidence_sequences[0].lower is None  # no information before a success
    assert report.bayesian.comparisons[0].chance_to_beat_control == pytest.approx(0.5, abs=1e-12)


def test_fisher_and_newcombe_disagree():
    (result,) = fixed_horizon([ArmCounts("a", 100, 95), ArmCounts("b", 100, 100)], control="a")
    assert result.method == "fisher_exact"
    assert result.p_value == pytest.approx(0.0594, abs=1e-4) and result.difference_lower > 0
    assert result.agrees is False
    report = run((100, 95), (100, 100), sequential=False, mde=0.2)
    assert report.plan.reached
    assert report.decision.action == "keep_running"
    assert "disagree" in report.decision.sentence and "Fisher" in report.decision.sentence


def test_challenger_significantly_worse():
    report = run((400_000, 20_000), (400_000, 18_500))
    assert report.decision.action == "worse"
    assert "worse than 'a'" in report.decision.sentence
    assert "Decided by the anytime-valid confidence sequence" in report.decision.sentence
    fixed = run((400_000, 20_000), (400_000, 18_500), sequential=False, mde=0.05)
    assert fixed.decision.action == "worse" and "Welch" in fixed.decision.sentence


def test_real_gain_below_the_mde():
    report = run((10_000_000, 500_000), (10_000_000, 503_000))
    assert report.frequentist[0].p_value == pytest.approx(0.0021, abs=1e-4)
    assert report.confidence_sequences[0].lower < 0 < report.confidence_sequences[0].upper
    assert report.decision.action == "below_mde"
    sentence = report.decision.sentence
    assert "Welch" in sentence and "anytime-valid confidence sequence" in sentence
    assert report.decision.numbers["largest_plausible_gain"] < report.plan.mde_absolute


def test_tens_of_millions():
    report = run((30_000_000, 420_000), (30_000_000, 421_500))
    (freq,) = report.frequentist
    assert freq.method == "welch_t" and math.isfinite(freq.df) and freq.df > 1e7
    beat = report.bayesian.comparisons[0].chance_to_beat_control
    assert 0.5 < beat < 1
    # exactness against 50-digit mpmath: tests/analysis/test_exactness.py (10^7 per arm)
    assert report.bayesian.arms[0].chance_to_be_best == pytest.approx(1 - beat, abs=1e-12)


def test_control_rate_zero():
    report = run((5_000, 0), (5_000, 4))
    (freq,) = report.frequentist
    assert freq.relative_lift is None and freq.relative_p_value is None
    assert report.plan.status == "no_baseline"
    absolute = run((5_000, 0), (5_000, 4), mde=MinimumDetectableEffect(0.01, relative=False))
    assert absolute.plan.status != "no_baseline"


def test_strata_that_do_not_add_up():
    strata = [StratumCounts("mastodon", (ArmCounts("a", 10, 1), ArmCounts("b", 10, 1)))]
    with pytest.raises(ValueError, match="arm 'a'"):
        run((20, 2), (10, 1), strata=strata)


def test_non_finite_numbers():
    report = analyse(
        [ArmCounts("a", 100, 5), ArmCounts("b", 0, 0), ArmCounts("c", 100, 6)],
        control="a",
        metric_name="x",
        planned_weights={"a": 1, "b": 1, "c": 1},
        mde=0.1,
        allocation_counts={"a": 100, "b": 0, "c": 100},
    )
    data = report.to_dict()
    json.dumps(data, allow_nan=False)
    impossible = analyse(
        [ArmCounts("a", 100, 5), ArmCounts("b", 100, 6)],
        control="a",
        metric_name="x",
        planned_weights={"a": 1, "b": 1},
        mde=0.1,
        allocation_counts={"a": 100, "b": 0},
    )
    assert impossible.srm.p_value < 1e-10
    json.dumps(impossible.to_dict(), allow_nan=False)


def test_clusters_that_do_not_add_up():
    with pytest.raises(ValueError, match="arm 'a'"):
        ArmCounts("a", 10, 1, clusters=((5, 1), (4, 0)))
    with pytest.raises(ValueError, match="clusters must be given for every arm"):
        analyse(
            [ArmCounts("a", 10, 1, clusters=((10, 1),)), ArmCounts("b", 10, 2)],
            control="a",
            metric_name="x",
            planned_weights=HALF,
            mde=0.1,
        )


def test_fewer_than_ten_clusters():
    clusters = tuple((1_000, 30) for _ in range(5))
    report = analyse(
        [ArmCounts("a", 5_000, 150, clusters), ArmCounts("b", 5_000, 150, clusters)],
        control="a",
        metric_name="x",
        planned_weights=HALF,
        mde=0.1,
    )
    assert report.decision.action == "keep_running" and report.decision.basis == "clusters"


ROWS = {
    "successes > exposures, negative or non-integer counts": test_bad_counts,
    "an arm with 0 exposures": test_arm_without_exposures,
    "0 or all successes in either arm": test_zero_or_all_successes,
    "Fisher's p-value and Newcombe's interval disagree": test_fisher_and_newcombe_disagree,
    "a challenger significantly worse than control": test_challenger_significantly_worse,
    "a real gain smaller than the MDE": test_real_gain_below_the_mde,
    "counts in the tens of millions": test_tens_of_millions,
    "control rate 0": test_control_rate_zero,
    "strata that do not add up to the arms": test_strata_that_do_not_add_up,
    "any non-finite number in the report": test_non_finite_numbers,
    "`clusters` that do not add up to the arm, or given for some arms only": (
        test_clusters_that_do_not_add_up
    ),
    "fewer than 10 clusters with exposures in an arm (with `clusters`)": (
        test_fewer_than_ten_clusters
    ),
}


def _doc_rows() -> list[str]:
    text = DOC.read_text()
    section = text.split("## Edge cases", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][2:]  # skip header
    return [row.split(" | ")[0][2:].strip() for row in rows]


def test_every_row_of_the_doc_table_has_a_test():
    rows = _doc_rows()
    assert rows, "the edge-case table is missing from docs/ab-method.md"
    assert sorted(rows) == sorted(ROWS)
