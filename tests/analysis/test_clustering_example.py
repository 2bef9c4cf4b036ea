"""Recomputes the design-effect example of docs/ab-method.md, so doc and code agree."""

import math
from pathlib import Path

import pytest

from calendar_app.analysis import ArmCounts, analyse, design_effect
from calendar_app.analysis.frequentist import compare_fixed

DOC = Path(__file__).resolve().parents[2] / "docs" / "ab-method.md"
CONTROL = ((1000, 20), (3000, 90), (2000, 30), (4000, 100))
B = ((1500, 45), (2500, 70), (3500, 120), (2500, 65))


def _arm(key, clusters):
    return ArmCounts(key, sum(n for n, _ in clusters), sum(y for _, y in clusters), clusters)


@pytest.fixture(scope="module")
def report():
    return analyse(
        [_arm("control", CONTROL), _arm("b", B)],
        control="control",
        metric_name="click-through rate",
        planned_weights={"control": 1, "b": 1},
        mde=0.10,
    )


def test_design_effects_by_hand():
    control = design_effect(_arm("control", CONTROL))
    # residuals and leverage-corrected squares, as in the doc
    p = 240 / 10_000
    residuals = [y - p * n for n, y in CONTROL]
    assert residuals == pytest.approx([-4, 18, -18, 4])
    terms = [e * e / (1 - n / 10_000) for e, (n, _) in zip(residuals, CONTROL, strict=True)]
    assert terms == pytest.approx([17.78, 462.86, 405.00, 26.67], abs=0.005)
    assert sum(terms) == pytest.approx(912.30, abs=0.005)
    assert control.variance_cluster == pytest.approx(9.1230e-6, abs=5e-11)
    assert control.variance_binomial == pytest.approx(2.3424e-6)
    assert control.design_effect == pytest.approx(3.895, abs=5e-4)
    assert (control.effective_exposures, control.effective_successes) == (2568, 62)

    b = design_effect(_arm("b", B))
    assert b.variance_cluster == pytest.approx(5.1282e-6, abs=5e-11)
    assert b.variance_binomial == pytest.approx(2.91e-6)
    assert b.design_effect == pytest.approx(1.762, abs=5e-4)
    assert (b.effective_exposures, b.effective_successes) == (5674, 170)


def test_naive_against_cluster_robust(report):
    naive = compare_fixed(ArmCounts("control", 10_000, 240), ArmCounts("b", 10_000, 300))
    assert naive.difference == pytest.approx(0.006)
    assert naive.statistic == pytest.approx(2.618, abs=5e-4)
    assert naive.p_value == pytest.approx(0.0089, abs=5e-5)

    robust = report.frequentist[0]
    assert robust.method == "welch_t"
    se = math.sqrt((62 / 2568) * (1 - 62 / 2568) / 2567 + (170 / 5674) * (1 - 170 / 5674) / 5673)
    assert se == pytest.approx(0.003782, abs=5e-7)
    assert robust.statistic == pytest.approx(1.538, abs=5e-4)
    assert robust.df == pytest.approx(5.55, abs=5e-3)
    assert robust.p_value == pytest.approx(0.179, abs=5e-4)
    assert (robust.difference_lower, robust.difference_upper) == pytest.approx(
        (-0.0036, 0.0153), abs=5e-5
    )
    assert report.decision.action == "keep_running"
    assert "every variant needs at least 10 publications with exposures" in (
        report.decision.sentence
    )


def test_the_doc_states_these_numbers():
    text = DOC.read_text()
    for snippet in (
        "912.30",
        "deff = 3.895",
        "deff = 1.762",
        "2{,}568",
        "5,674 and 170",
        "p = 0.0089",
        "p = 0.179",
        r"\nu = 5.55",
        "\u22120.36 pp to +1.53 pp",  # minus sign, as typeset
    ):
        assert snippet in text, snippet
