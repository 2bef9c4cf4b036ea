"""Recomputes every number of the worked example in docs/ab-method.md, so doc and code agree."""

import math
from pathlib import Path

import pytest

from calendar_app.analysis import ArmCounts, analyse

DOC = Path(__file__).resolve().parents[2] / "docs" / "ab-method.md"


@pytest.fixture(scope="module")
def report():
    return analyse(
        [ArmCounts("control", 20_000, 1_000), ArmCounts("b", 20_000, 1_150)],
        control="control", metric_name="click-through rate",
        planned_weights={"control": 1, "b": 1}, mde=0.10, daily_exposures=4_000,
    )  # fmt: skip


def test_frequentist_numbers(report):
    f = report.frequentist[0]
    v_c, v_t = 0.05 * 0.95 / 19_999, 0.0575 * 0.9425 / 19_999
    assert math.sqrt(v_c + v_t) == pytest.approx(0.0022550, abs=5e-8)
    assert f.difference == pytest.approx(0.0075)
    assert f.statistic == pytest.approx(3.326, abs=5e-4)
    assert f.df == pytest.approx(39_825, abs=1)
    assert f.p_value == pytest.approx(0.00088, abs=5e-6)
    assert (f.difference_lower, f.difference_upper) == pytest.approx((0.00308, 0.01192), abs=5e-6)
    assert f.relative_lift == pytest.approx(0.15)
    assert (f.lift_upper - f.lift_lower) / (2 * 1.959964) == pytest.approx(0.048377, abs=5e-7)
    assert (f.lift_lower, f.lift_upper) == pytest.approx((0.0552, 0.2448), abs=5e-5)


def test_srm_and_plan(report):
    assert report.srm.statistic == 0 and report.srm.p_value == 1 and not report.srm.flagged
    plan = report.plan
    assert plan.required == {"control": 31_234, "b": 31_234} and plan.total_required == 62_468
    assert plan.days_total == pytest.approx(15.6, abs=0.05)
    assert plan.days_remaining == pytest.approx(5.6, abs=0.05)
    assert plan.progress == pytest.approx(0.64, abs=0.005)


def test_confidence_sequence(report):
    cs = report.confidence_sequences[0]
    assert cs.optimal_n == 62_468 and cs.rho == pytest.approx(0.011464, abs=5e-7)
    sigma = math.sqrt((1150 + 1000) / 0.25 / 40_000 - 0.0075**2)
    assert sigma == pytest.approx(0.46362, abs=5e-6)
    assert (cs.upper - cs.lower) / 2 == pytest.approx(0.007074, abs=5e-7)
    assert (cs.lower, cs.upper) == pytest.approx((0.0004, 0.0146), abs=5e-5)


def test_bayesian_and_decision(report):
    control, b = report.bayesian.arms
    assert (control.posterior_alpha, control.posterior_beta) == (1001, 19001)
    assert (b.posterior_alpha, b.posterior_beta) == (1151, 18851)
    assert report.bayesian.comparisons[0].chance_to_beat_control == pytest.approx(0.9996, abs=5e-5)
    assert b.expected_loss == pytest.approx(2.6e-7, abs=5e-9)
    assert control.expected_loss == pytest.approx(0.0075, abs=5e-5)
    assert report.decision.action == "ship" and report.decision.variant == "b"
    assert report.decision.sentence in DOC.read_text().replace("\n  ", " ").replace("\n", " ")


def test_fixed_horizon_waits(report):
    fixed = analyse(
        [ArmCounts("control", 20_000, 1_000), ArmCounts("b", 20_000, 1_150)],
        control="control", metric_name="click-through rate",
        planned_weights={"control": 1, "b": 1}, mde=0.10, sequential=False,
    )  # fmt: skip
    assert fixed.decision.action == "keep_running"
