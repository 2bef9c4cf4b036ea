"""The reference bundle, run inside gbstats' own virtualenv (never imported by Kairos).

``python gbstats_bundle.py`` reads JSON from stdin — ``{"inputs": [[[n, s], ...], ...],
"repeats": r, "alpha": a}``, each input a list of arms with control first — runs, per input and
per challenger, gbstats' two-sided t-test, sequential t-test and Gaussian-effect Bayesian test
(relative scale, its defaults) plus its SRM check once, and prints per input the best of
``repeats`` wall-clock times in seconds, with the numbers it computed so the caller can check
that both engines saw the same data. Kept free of Kairos imports on purpose: it runs in a
different environment.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig
    from gbstats.frequentist.tests import (
        FrequentistConfig,
        SequentialConfig,
        SequentialTwoSidedTTest,
        TwoSidedTTest,
    )
    from gbstats.models.statistics import ProportionStatistic
    from gbstats.utils import check_srm

    job = json.load(sys.stdin)
    alpha = job.get("alpha", 0.05)
    repeats = job.get("repeats", 3)
    freq_config = FrequentistConfig(alpha=alpha)
    seq_config = SequentialConfig(alpha=alpha)
    bayes_config = EffectBayesianConfig(alpha=alpha)

    def bundle(arms: list[list[int]]) -> dict:
        stats = [ProportionStatistic(n=n, sum=s) for n, s in arms]
        control = stats[0]
        out = {"srm_p": check_srm([n for n, _ in arms], [1 / len(arms)] * len(arms))}
        rows = []
        for challenger in stats[1:]:
            fixed = TwoSidedTTest(control, challenger, freq_config).compute_result()
            seq = SequentialTwoSidedTTest(control, challenger, seq_config).compute_result()
            bayes = EffectBayesianABTest(control, challenger, bayes_config).compute_result()
            rows.append(
                {
                    "p_value": fixed.p_value,
                    "sequential_p_value": seq.p_value,
                    "chance_to_win": bayes.chance_to_win,
                }
            )
        out["challengers"] = rows
        return out

    bundle(job["inputs"][0])  # warm up imports and caches
    times, results = [], []
    for arms in job["inputs"]:
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            result = bundle(arms)
            best = min(best, time.perf_counter() - started)
        times.append(best)
        results.append(result)
    json.dump({"seconds": times, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
