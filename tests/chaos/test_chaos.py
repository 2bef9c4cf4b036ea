"""The short chaos run: 60 publications, 10 kills, network faults and (on PostgreSQL, when
``KAIROS_CHAOS_PG_RESTART`` is set) a database restart; nothing may be lost, duplicated or stuck.

Reproduce a failure with the seed it prints: ``KAIROS_CHAOS_SEED=<seed> pytest tests/chaos -m chaos -s``.
"""

from __future__ import annotations

import json
import os

import pytest

from benchmarks.chaos import ChaosConfig, run_chaos

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]


def test_no_publication_is_lost_duplicated_or_stuck(chaos_env, tmp_path) -> None:
    # The database restart happens on PostgreSQL when KAIROS_CHAOS_PG_RESTART is set; the
    # figures say why it was skipped otherwise.
    config = ChaosConfig.short(seed=int(os.environ.get("KAIROS_CHAOS_SEED", "20261123")))
    figures = run_chaos(config, tmp_path / "chaos", env=chaos_env)
    report = json.dumps(figures, indent=2, default=str)
    print(report)

    # The run really was chaotic, or a green result would prove nothing.
    assert figures["kills"]["performed"] == config.kills, report
    assert figures["receiver"]["faults_total"] > 0, report
    assert figures["receiver"]["bad_signatures"] == 0, report
    if figures["db_restart"]["performed"]:
        assert figures["db_restart"]["returncode"] == 0, report
        assert figures["db_restart"]["outage_seconds"] is not None, report

    problems = "\n".join(json.dumps(p, default=str) for p in figures["problem_samples"])
    assert figures["stuck"] == 0, f"{figures['stuck']} stuck publication(s):\n{problems}"
    assert figures["lost"] == 0, f"{figures['lost']} lost publication(s):\n{problems}"
    assert figures["duplicated"] == 0, (
        f"{figures['duplicated']} duplicated publication(s):\n{problems}"
    )
