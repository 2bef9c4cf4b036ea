"""The top-level ``analyse`` call: decisions, edge cases, JSON shape, no Django."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from calendar_app.analysis import (
    ArmCounts,
    MinimumDetectableEffect,
    SequentialTuning,
    StratumCounts,
    analyse,
)

ROOT = Path(__file__).resolve().parents[2]
HALF = {"a": 1, "b": 1}


def run(a, b, **kwargs):
    params = dict(control="a", metric_name="click-through rate", planned_weights=HALF, mde=0.1)
    params.update(kwargs)
    return analyse([ArmCounts("a", *a), ArmCounts("b", *b)], **params)


def assert_json_clean(report):
    data = report.to_dict()
    text = json.dumps(data, allow_nan=False)  # raises on NaN/inf
    assert json.loads(text) == data
    return data


def test_package_imports_without_django():
    code = (
        "import sys; import calendar_app.analysis as a; "
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules), "
        "sorted(m for m in sys.modules if 'django' in m)"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)


def test_ship_when_the_confidence_sequence_excludes_zero():
    report = run((20_000, 1000), (20_000, 1150))
    assert report.decision.action == "ship" and report.decision.variant == "b"
    assert "Ship 'b'" in report.decision.sentence
    assert report.decision.numbers["lower"] > 0


def test_srm_blocks_the_decision():
    report = run((50_000, 2500), (48_000, 2900))
    assert report.srm.flagged and report.decision.action == "srm"
    assert "Traffic split is broken" in report.decision.sentence


def test_srm_can_use_impressions_for_conversion_per_click():
    # Many more clicks on b (it is the better CTA) is not an SRM: impressions are balanced.
    report = run((1000, 100), (1500, 150), allocation_counts={"a": 50_000, "b": 50_100})
    assert not report.srm.flagged


def test_no_difference_when_the_interval_rules_out_the_mde():
    report = run((400_000, 20_000), (400_000, 20_050), mde=0.1)
    assert report.decision.action == "no_difference"
    assert report.decision.numbers["largest_plausible_gain"] < report.plan.mde_absolute


def test_keep_running_early():
    report = run((1000, 50), (1000, 55))
    assert report.decision.action == "keep_running"


def test_fixed_horizon_waits_for_the_planned_sample_then_reads_holm():
    early = run((20_000, 1000), (20_000, 1150), sequential=False)
    assert early.decision.action == "keep_running" and "planned sample" in early.decision.sentence
    done = run((40_000, 2000), (40_000, 2300), sequential=False)
    assert done.plan.reached and done.decision.action == "ship"
    assert done.decision.basis == "fixed_horizon"
    null = run((40_000, 2000), (40_000, 2010), sequential=False)
    assert null.decision.action == "no_difference"


def test_three_arms_and_tuning():
    arms = [
        ArmCounts("a", 30_000, 1500),
        ArmCounts("b", 30_000, 1800),
        ArmCounts("c", 30_000, 1490),
    ]
    report = analyse(
        arms, control="a", metric_name="CTR", planned_weights={"a": 1, "b": 1, "c": 1},
        mde=MinimumDetectableEffect(0.005, relative=False), tuning=SequentialTuning(rho=0.01),
        daily_exposures=9000,
    )  # fmt: skip
    assert report.decision.action == "ship" and report.decision.variant == "b"
    assert all(cs.alpha == 0.025 and cs.rho == 0.01 for cs in report.confidence_sequences)
    assert sum(a.chance_to_be_best for a in report.arms) == pytest.approx(1, abs=1e-6)
    data = assert_json_clean(report)
    assert set(data) >= {
        "arms",
        "frequentist",
        "bayesian",
        "confidence_sequences",
        "srm",
        "plan",
        "decision",
    }


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((0, 0), (0, 0)),
        ((0, 0), (100, 3)),
        ((100, 0), (100, 0)),
        ((100, 100), (100, 100)),
        ((1, 1), (1, 0)),
        ((50_000_000, 1_000_000), (50_000_000, 1_001_000)),
        ((30_000_000, 0), (30_000_000, 30_000_000)),
    ],
)
@pytest.mark.parametrize("sequential", [True, False])
def test_edge_cases_give_a_clean_report(a, b, sequential):
    report = run(a, b, sequential=sequential, daily_exposures=0)
    assert report.decision.action in {"keep_running", "ship", "no_difference", "srm"}
    assert_json_clean(report)


def test_edge_case_decisions():
    assert run((0, 0), (0, 0)).decision.action == "keep_running"
    assert "'b' has no exposures" in run((10, 1), (0, 0)).decision.sentence
    assert run((100, 0), (100, 0)).decision.action == "keep_running"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(control="z"), "control 'z'"),
        (dict(alpha=0), "alpha"),
        (dict(power=1), "power"),
        (dict(planned_weights={"a": 1}), "no weight"),
        (dict(planned_weights={"a": 1, "b": 0}), "positive planned weight"),
        (dict(mde=-0.1), "minimum detectable"),
        (dict(allocation_counts={"a": 1}), "allocation_counts"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        run((10, 1), (10, 2), **kwargs)


def test_bad_arms():
    with pytest.raises(ValueError, match="'b'"):
        run((10, 1), (10, 11))
    with pytest.raises(ValueError, match="at least two"):
        analyse(
            [ArmCounts("a", 1, 0)], control="a", metric_name="x", planned_weights={"a": 1}, mde=0.1
        )


def test_stratified_report_shape():
    strata = [
        StratumCounts("mastodon", (ArmCounts("a", 600, 30), ArmCounts("b", 600, 40))),
        StratumCounts("email", (ArmCounts("a", 400, 80), ArmCounts("b", 400, 90))),
    ]
    report = run((1000, 110), (1000, 130), strata=strata)
    data = assert_json_clean(report)
    (comp,) = data["stratified"]
    assert [s["stratum"] for s in comp["strata"]] == ["mastodon", "email"]
    assert math.isclose(sum(s["weight_share"] for s in comp["strata"]), 1.0)
