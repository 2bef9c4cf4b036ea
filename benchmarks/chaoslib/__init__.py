"""Reusable pieces of the chaos suite (:mod:`benchmarks.chaos`): the loopback receiver with fault
injection, the process fleet and its killer, the database restart, and the final accounting."""

from __future__ import annotations

from benchmarks.chaoslib.accounting import inflight_claims, open_count, tally, with_db_retry
from benchmarks.chaoslib.dbrestart import DatabaseRestart, RestartFigures
from benchmarks.chaoslib.fleet import Fleet, Killer, KillRecord, group_pids
from benchmarks.chaoslib.receiver import FAULT_KINDS, ChaosReceiver, FaultPlan, ReceivedPost

__all__ = [
    "FAULT_KINDS",
    "ChaosReceiver",
    "DatabaseRestart",
    "FaultPlan",
    "Fleet",
    "KillRecord",
    "Killer",
    "ReceivedPost",
    "RestartFigures",
    "group_pids",
    "inflight_claims",
    "open_count",
    "tally",
    "with_db_retry",
]
