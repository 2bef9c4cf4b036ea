"""A/B engine figures: Kairos' full ``analyse`` against GrowthBook's stats engine, side by side,
and the A/A false-positive rates of the decision rule.

* ``speed``: 1,000 seeded 2-arm inputs (visitors per arm log-uniform from 10^3 to 10^7, one in
  ten at exactly 10^7; base rates 0.5%-20%; lifts within +/-10%) and 100 seeded 4-arm inputs
  (10^4-10^6 per arm), plus a 4-arm input at 10^7 per arm. Each input is timed as the best of
  3 calls, for Kairos' ``analyse`` (SRM, plan, Welch/Fisher with Holm, Bayesian chances, losses
  and credible bounds, confidence sequences and their p-values, decision) and for gbstats'
  bundle (two-sided t-test, sequential t-test and Gaussian-effect Bayesian test per challenger,
  plus its SRM check — ``benchmarks/gbstats_bundle.py``), which runs in a subprocess inside a
  virtualenv of its own (gbstats is never a Kairos dependency). The inputs are interleaved in
  blocks — gbstats block, Kairos block, and so on — so that a change of load on the machine
  affects both engines alike. Reported: medians, their ratio (Kairos / gbstats; below 1 means
  Kairos is faster), and the median of per-input ratios.
* ``aa``: seeded A/A experiments (both arms the same rate), each read at 20 looks as traffic
  accumulates, as a marketer reading the results page daily would. Reported: how often the
  decision rule ever declares a difference (``ship``, ``worse`` or ``below_mde``) or ever ships;
  how often the anytime-valid p-value ever drops below alpha; and how often a fixed-horizon
  Welch p-value read at every look does (the peeking problem the rule avoids).

``python -m benchmarks ab_engine [--quick]`` runs both; ``python -m benchmarks.ab_engine aa``
reruns only the simulation (no Django needed).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GBSTATS = "gbstats==0.8.0"
SEED = 20_261_130


def gbstats_python() -> Path:
    """The python of a virtualenv holding gbstats (created once, cached; see cached_venv)."""
    sys.path.insert(0, str(ROOT))
    from tests.plugins.cached_venv import ensure_venv

    return ensure_venv("gbstats-0.8.0", GBSTATS, "import gbstats")


def two_arm_inputs(count: int, rng: np.random.Generator) -> list[list[list[int]]]:
    inputs = []
    for i in range(count):
        n = 10_000_000 if i % 10 == 0 else int(10 ** rng.uniform(3, 7))
        base = rng.uniform(0.005, 0.2)
        lift = rng.uniform(-0.1, 0.1)
        arms = [[n, int(rng.binomial(n, base))], [n, int(rng.binomial(n, base * (1 + lift)))]]
        inputs.append(arms)
    return inputs


def four_arm_inputs(count: int, rng: np.random.Generator) -> list[list[list[int]]]:
    inputs = []
    for _ in range(count):
        n = int(10 ** rng.uniform(4, 6))
        base = rng.uniform(0.01, 0.1)
        rates = [base, *(base * (1 + rng.uniform(-0.1, 0.1)) for _ in range(3))]
        inputs.append([[n, int(rng.binomial(n, r))] for r in rates])
    return inputs


def time_kairos(inputs: list[list[list[int]]], repeats: int) -> tuple[list[float], list[dict]]:
    from calendar_app.analysis import ArmCounts, analyse

    def call(arms: list[list[int]]):
        keys = ["control", *(f"v{i}" for i in range(1, len(arms)))]
        return analyse(
            [ArmCounts(k, n, s) for k, (n, s) in zip(keys, arms, strict=True)],
            control="control",
            metric_name="conversion rate",
            planned_weights=dict.fromkeys(keys, 1),
            mde=0.05,
        )

    call(inputs[0])  # warm up
    times, results = [], []
    for arms in inputs:
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            report = call(arms)
            best = min(best, time.perf_counter() - started)
        times.append(best)
        results.append(
            {
                "relative_p_value": [c.relative_p_value for c in report.frequentist],
                "chance_to_beat": [c.chance_to_beat_control for c in report.bayesian.comparisons],
            }
        )
    return times, results


def time_gbstats(
    python: Path, inputs: list[list[list[int]]], repeats: int
) -> tuple[list[float], list[dict]]:
    job = json.dumps({"inputs": inputs, "repeats": repeats, "alpha": 0.05})
    done = subprocess.run(
        [str(python), str(ROOT / "benchmarks" / "gbstats_bundle.py")],
        input=job,
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    out = json.loads(done.stdout)
    return out["seconds"], out["results"]


def side_by_side(inputs: list[list[list[int]]], python: Path, repeats: int, blocks: int) -> dict:
    """Both engines on the same inputs, interleaved block by block."""
    kairos_t: list[float] = []
    gb_t: list[float] = []
    kairos_r: list[dict] = []
    gb_r: list[dict] = []
    size = max(1, -(-len(inputs) // blocks))
    for start in range(0, len(inputs), size):
        block = inputs[start : start + size]
        seconds, results = time_gbstats(python, block, repeats)
        gb_t += seconds
        gb_r += results
        seconds, results = time_kairos(block, repeats)
        kairos_t += seconds
        kairos_r += results
    kairos = np.array(kairos_t)
    gb = np.array(gb_t)
    # Same data seen by both: GrowthBook's relative t-test p-value against ours (they differ
    # only by n against n - 1 in the variances).
    diffs = [
        abs(k - g["p_value"])
        for kr, gr in zip(kairos_r, gb_r, strict=True)
        for k, g in zip(kr["relative_p_value"], gr["challengers"], strict=True)
        if k is not None
    ]
    return {
        "inputs": len(inputs),
        "kairos_median_ms": round(1e3 * float(np.median(kairos)), 4),
        "gbstats_median_ms": round(1e3 * float(np.median(gb)), 4),
        "ratio_of_medians": round(float(np.median(kairos) / np.median(gb)), 3),
        "median_of_ratios": round(float(np.median(kairos / gb)), 3),
        "kairos_p90_ms": round(1e3 * float(np.percentile(kairos, 90)), 4),
        "gbstats_p90_ms": round(1e3 * float(np.percentile(gb, 90)), 4),
        "kairos_max_ms": round(1e3 * float(kairos.max()), 4),
        "share_of_inputs_kairos_faster": round(float(np.mean(kairos < gb)), 3),
        "relative_p_value_max_abs_difference_vs_gbstats": float(max(diffs)) if diffs else None,
    }


def speed(quick: bool) -> dict:
    rng = np.random.default_rng(SEED)
    python = gbstats_python()
    two = two_arm_inputs(100 if quick else 1_000, rng)
    four = four_arm_inputs(20 if quick else 100, rng)
    huge_four = [[[10_000_000, s] for s in (140_000, 141_000, 139_500, 140_800)]]
    repeats = 3
    return {
        "gbstats": GBSTATS,
        "timing": "best of 3 calls per input; blocks of inputs alternate between the engines",
        "two_arms": side_by_side(two, python, repeats, blocks=4 if quick else 10),
        "four_arms": side_by_side(four, python, repeats, blocks=2 if quick else 4),
        "four_arms_10M_per_arm": side_by_side(huge_four * 5, python, repeats, blocks=1),
    }


# --- A/A simulation ------------------------------------------------------------------------


def aa(quick: bool, *, alpha: float = 0.05) -> dict:
    """A/A false-positive rates with peeking (see the module docstring)."""
    sys.path.insert(0, str(ROOT))
    from calendar_app.analysis import ArmCounts, analyse
    from calendar_app.analysis.frequentist import compare_fixed

    rng = np.random.default_rng(SEED + 1)
    experiments = 400 if quick else 2_000
    looks = 20
    rates = (0.01, 0.03, 0.1, 0.3)
    per_look = (100, 500, 2_000)
    declared = shipped = anytime = peeking = 0
    outcomes: dict[str, int] = {}
    started = time.monotonic()
    for e in range(experiments):
        rate = rates[e % len(rates)]
        step = per_look[(e // len(rates)) % len(per_look)]
        clicks = rng.binomial(step, rate, size=(looks, 2)).cumsum(axis=0)
        n = step * np.arange(1, looks + 1)
        ever_declared = ever_shipped = ever_anytime = ever_peek = False
        for look in range(looks):
            arms = [
                ArmCounts("control", int(n[look]), int(clicks[look, 0])),
                ArmCounts("b", int(n[look]), int(clicks[look, 1])),
            ]
            report = analyse(
                arms,
                control="control",
                metric_name="click-through rate",
                planned_weights={"control": 1, "b": 1},
                mde=0.1,
                alpha=alpha,
            )
            action = str(report.decision.action)
            outcomes[action] = outcomes.get(action, 0) + 1
            ever_declared |= action in ("ship", "worse", "below_mde")
            ever_shipped |= action == "ship"
            p_seq = report.confidence_sequences[0].p_value
            ever_anytime |= p_seq is not None and p_seq < alpha
            fixed = compare_fixed(arms[0], arms[1], alpha=alpha)
            ever_peek |= fixed.p_value is not None and fixed.p_value < alpha
        declared += ever_declared
        shipped += ever_shipped
        anytime += ever_anytime
        peeking += ever_peek

    def rate_and_se(count: int) -> dict:
        p = count / experiments
        return {
            "rate": round(p, 4),
            "monte_carlo_se": round(float(np.sqrt(p * (1 - p) / experiments)), 4),
        }

    return {
        "experiments": experiments,
        "looks": looks,
        "alpha": alpha,
        "rates": list(rates),
        "exposures_per_arm_per_look": list(per_look),
        "decision_declares_a_difference": rate_and_se(declared),
        "decision_ships": rate_and_se(shipped),
        "anytime_valid_p_below_alpha": rate_and_se(anytime),
        "fixed_horizon_p_below_alpha_with_peeking": rate_and_se(peeking),
        "decisions_by_look": outcomes,
        "seconds": round(time.monotonic() - started, 1),
    }


def run(*, quick: bool, scratch: Path) -> dict:
    return {"speed": speed(quick), "aa": aa(quick)}


if __name__ == "__main__":
    what = sys.argv[1:] or ["aa"]
    quick = "--quick" in what
    out = {}
    if "aa" in what:
        out["aa"] = aa(quick)
    if "speed" in what:
        out["speed"] = speed(quick)
    print(json.dumps(out, indent=2))
