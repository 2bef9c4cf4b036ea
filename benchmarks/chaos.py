"""Chaos: no publication is lost, duplicated or stuck under crashes, a database restart and faults.

The promise of the delivery pipeline (DESIGN.md, "How data flows", step 4: "a publication is
never delivered twice", and never dropped) only means something when processes die at the worst
moment. This suite runs real ``qcluster`` and ``run_dispatcher`` children against webhook
channels that point at a loopback receiver (:mod:`benchmarks.chaoslib.receiver`), then:

* a seeded killer SIGKILLs a random child every couple of seconds and restarts it shortly after;
* the receiver answers some first attempts with "processed, then 500", 429 + ``Retry-After``,
  "processed, then hang past the read time-out" or a connection reset;
* on PostgreSQL, ``KAIROS_CHAOS_PG_RESTART`` (a shell command) restarts the server mid-burst.

Then it waits (bounded) for every publication to reach a final state and compares the receiver's
record with the database's: ``lost``, ``duplicated`` and ``stuck`` must all be zero (definitions in
:mod:`benchmarks.chaoslib.accounting`). Recovery time after each kill is reported as well.

    python -m benchmarks chaos [--quick]        # once registered in benchmarks/__main__.py
    python -m benchmarks.chaos [--quick] [--database-url URL] [--redis-url URL]
    pytest tests/chaos -m chaos                 # the short version, as a test
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from benchmarks.chaoslib import (
    ChaosReceiver,
    DatabaseRestart,
    FaultPlan,
    Fleet,
    Killer,
    KillRecord,
    RestartFigures,
    inflight_claims,
    open_count,
    tally,
    with_db_retry,
)

__all__ = ["CHILD_ENV", "ChaosConfig", "chaos_env", "run", "run_chaos"]

SIGNING_SECRET = "chaos-signing-secret"

#: What the children run with: fast retries and short leases so that a run converges in minutes.
CHILD_ENV = {
    "KAIROS_ALLOW_PRIVATE_NETWORKS": "webhook",  # the operator's switch for loopback webhook targets
    "KAIROS_RETRY_BASE": "0.5",
    "KAIROS_RETRY_CAP": "2",
    "KAIROS_RETRY_MAX_ATTEMPTS": "8",
    "KAIROS_CLAIM_TTL": "4",
    "KAIROS_DRAIN_BUDGET": "4",  # at most half the task time-out (system check kairos.W002)
    "KAIROS_Q_TIMEOUT": "10",
    "KAIROS_Q_RETRY": "20",
}


@dataclass(frozen=True)
class ChaosConfig:
    """One chaos run.

    :param publications: how many publications fall due during the run.
    :param kills: SIGKILLs in total (spread over the due window and a few seconds after).
    :param clusters: ``qcluster`` children (2 workers each).
    :param dispatchers: ``run_dispatcher`` children.
    :param fault_rate: share of first attempts (during the due window) the receiver fails.
    :param db_restart: restart PostgreSQL mid-burst (needs ``KAIROS_CHAOS_PG_RESTART``).
    :param seed: seeds the due times, the faults and the killer.
    :param settle_timeout: seconds allowed, after the last due time and the last kill, for every
        publication to reach a final state; what is still open then is *stuck*.
    :param channels: webhook channels (each content item goes to all of them, up to the count).
    :param window: seconds over which publications fall due (default: 1.8 s per kill, ≥ 30 s).
    :param read_timeout: the channels' read time-out; a "hang" fault lasts longer than this.
    :param startup_timeout: seconds for the first worker heartbeat.
    """

    publications: int = 300
    kills: int = 110
    clusters: int = 2
    dispatchers: int = 2
    fault_rate: float = 0.2
    db_restart: bool = True
    seed: int = 20261123
    settle_timeout: float = 120.0
    channels: int = 3
    window: float | None = None
    read_timeout: float = 2.0
    startup_timeout: float = 90.0

    @classmethod
    def full(cls, **changes: object) -> ChaosConfig:
        """The benchmark: 300 publications, 110 kills, 2 clusters + 2 dispatchers."""
        return cls(**changes)  # type: ignore[arg-type]

    @classmethod
    def short(cls, **changes: object) -> ChaosConfig:
        """The test: 60 publications, 10 kills, 2 clusters + 1 dispatcher, about two minutes."""
        defaults = {"publications": 60, "kills": 10, "dispatchers": 1, "settle_timeout": 100.0}
        return cls(**{**defaults, **changes})  # type: ignore[arg-type]

    @property
    def due_window(self) -> float:
        return self.window if self.window is not None else max(30.0, 1.8 * self.kills)


def chaos_env(base: Mapping[str, str]) -> dict[str, str]:
    """The children's environment: ``base`` (database, keys, broker) plus :data:`CHILD_ENV`."""
    env = dict(base)
    env.update(CHILD_ENV)
    env.pop("KAIROS_Q_SYNC", None)  # the children run a real cluster
    return env


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the data under test ---------------------------------------------------------------------


def _channels(config: ChaosConfig, receiver_url: str) -> list:
    from calendar_app.models import Brand, Channel, Workspace

    workspace = Workspace.objects.create(name="Chaos", slug=f"chaos-{time.monotonic_ns()}")
    brand = Brand.objects.create(
        workspace=workspace, name="Chaos brand", slug="chaos", time_zone="UTC"
    )
    return [
        Channel.objects.create(
            workspace=workspace,
            brand=brand,
            network="webhook",
            handle=f"@chaos{index}",
            settings={
                "url": receiver_url + "/posts",
                "read_timeout": config.read_timeout,
            },
            secrets={"signing_secret": SIGNING_SECRET},
        )
        for index in range(config.channels)
    ]


def due_offsets(config: ChaosConfig, rng: random.Random) -> list[float]:
    """Seconds after the start at which each content item falls due: 40 % of the items in three
    bursts (at 10 %, 50 % and 85 % of the window, all on the same instant), the rest calm."""
    items = math.ceil(config.publications / config.channels)
    window = config.due_window
    bursts = (0.10, 0.50, 0.85)
    in_bursts = int(items * 0.4)
    return [
        bursts[i % len(bursts)] * window if i < in_bursts else rng.uniform(0, window)
        for i in range(items)
    ]


def _schedule(config: ChaosConfig, channels: list, start: datetime, offsets: list[float]):
    """Scheduled items with pending publications, bulk-created like benchmarks.delivery's burst."""
    from calendar_app.models import ContentItem, ContentStatus, Publication

    brand = channels[0].brand
    dues = [start + timedelta(seconds=offset) for offset in offsets]
    items = ContentItem.objects.bulk_create(
        ContentItem(
            workspace=brand.workspace,
            brand=brand,
            title=f"chaos {index}",
            body=f"Chaos post {index}",
            status=ContentStatus.SCHEDULED,
            scheduled_at=due,
        )
        for index, due in enumerate(dues)
    )
    Publication.objects.bulk_create(
        Publication(
            workspace=brand.workspace,
            content_item=items[index // len(channels)],
            channel=channels[index % len(channels)],
            due_at=dues[index // len(channels)],
            next_attempt_at=dues[index // len(channels)],
        )
        for index in range(config.publications)
    )
    return list(
        Publication.objects.filter(content_item__in=items)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _wait_for_worker(fleet: Fleet, since: datetime, timeout: float) -> float:
    from calendar_app.models import WorkerHeartbeat

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if WorkerHeartbeat.objects.filter(role="worker", beat_at__gte=since).exists():
            return time.monotonic() - started
        time.sleep(0.2)
    raise RuntimeError(f"no worker heartbeat within {timeout:.0f}s:\n{fleet.logs()}")


def _conninfo() -> dict[str, object]:
    from django.db import connection

    db = connection.settings_dict
    return {
        "dbname": db["NAME"],
        "user": db["USER"] or None,
        "password": db["PASSWORD"] or None,
        "host": db["HOST"] or "127.0.0.1",
        "port": int(db["PORT"] or 5432),
    }


def _restart_plan(config: ChaosConfig) -> tuple[str, RestartFigures]:
    """The restart command to run, or why there is none (reported in the figures)."""
    from django.db import connection

    command = os.environ.get("KAIROS_CHAOS_PG_RESTART", "").strip()
    figures = RestartFigures()
    if not config.db_restart:
        figures.skipped_reason = "not requested"
    elif connection.vendor != "postgresql":
        figures.skipped_reason = f"the database is {connection.vendor}: no server to restart"
    elif not command:
        figures.skipped_reason = "KAIROS_CHAOS_PG_RESTART is not set"
    else:
        return command, figures
    return "", figures


def _database_errors_logged(scratch: Path) -> int:
    """Lines of the children's logs that report a lost database connection: evidence that the
    restart hit work in progress (a restart nobody noticed proves little)."""
    markers = ("terminating connection", "server closed the connection", "connection refused")
    count = 0
    for path in scratch.glob("*.log"):
        with open(path, errors="replace") as log:
            count += sum(1 for line in log if any(m in line.lower() for m in markers))
    return count


# --- the run -----------------------------------------------------------------------------------


def run_chaos(
    config: ChaosConfig,
    scratch: Path,
    *,
    env: Mapping[str, str] | None = None,
    log: Callable[[str], None] = _stderr,
) -> dict:
    """Run one chaos scenario and return its figures (see the module docstring).

    :param env: the children's base environment (database URL, keys, broker); default this
        process's. :data:`CHILD_ENV` is added to it.
    :param scratch: where the children's logs go (``<name>.log``).
    """
    from django.db import connection
    from django.utils import timezone

    scratch.mkdir(parents=True, exist_ok=True)
    child_env = chaos_env(os.environ if env is None else env)
    began = time.monotonic()

    def say(message: str) -> None:
        log(f"[chaos +{time.monotonic() - began:6.1f}s] {message}")

    rng = random.Random(config.seed)
    command, restart_figures = _restart_plan(config)
    receiver = ChaosReceiver(
        FaultPlan(rate=config.fault_rate, window=config.due_window, hang=config.read_timeout + 1.5),
        seed=config.seed + 1,
        signing_secret=SIGNING_SECRET,
    )
    fleet = Fleet(
        env=child_env, log_dir=scratch, clusters=config.clusters, dispatchers=config.dispatchers
    )
    killer: Killer | None = None
    restarter: DatabaseRestart | None = None
    settled = False
    settle_s = None
    killed_at_stop: list[str] = []

    def snapshot(record: KillRecord) -> None:
        record.inflight = with_db_retry(lambda: inflight_claims(record.workers), timeout=3)

    try:
        receiver.start()
        channels = _channels(config, receiver.url)
        boot = timezone.now()
        fleet.start_all()
        say(f"started {', '.join(fleet.commands)}; waiting for a worker")
        startup_s = _wait_for_worker(fleet, boot, config.startup_timeout)
        say(f"worker up after {startup_s:.1f}s; scheduling {config.publications} publications")

        lead = 3.0
        t0 = time.monotonic() + lead
        offsets = due_offsets(config, rng)
        ids = _schedule(config, channels, timezone.now() + timedelta(seconds=lead), offsets)
        window = config.due_window
        receiver.arm()
        killer = Killer(
            fleet,
            kills=config.kills,
            start_at=t0 - 1,
            end_at=t0 + window + 5,
            seed=config.seed + 2,
            on_kill=snapshot,
        )
        killer.start()
        if command:
            restarter = DatabaseRestart(command, at=t0 + 0.5 * window + 0.3, conninfo=_conninfo())
            restarter.start()
        say(f"{len(ids)} publications due over {window:.0f}s; {config.kills} kills; chaos on")

        if not killer.kills_done.wait(timeout=lead + window + 5 + 90):
            killer.finish_kills()
        say(f"kills done ({len(killer.records)}); settling (at most {config.settle_timeout:.0f}s)")
        settle_from = max(time.monotonic(), t0 + window)
        deadline = settle_from + config.settle_timeout
        left = len(ids)
        while time.monotonic() < deadline:
            left = with_db_retry(lambda: open_count(ids))
            if not left:
                settled = True
                break
            time.sleep(0.5)
        settle_s = round(time.monotonic() - settle_from, 1)
        say(f"settled in {settle_s}s" if settled else f"{left} still open after {settle_s}s")
        if settled:
            time.sleep(3)  # attempts still being written (a claim released under a slow worker)
    finally:
        if killer is not None:
            killer.stop()
            killer.join(timeout=15)
        if restarter is not None:
            restarter.stop()
            restarter.join(timeout=130)
        killed_at_stop = fleet.stop()
        receiver.stop()
        connection.close()

    if restarter is not None:
        restart_figures = restarter.figures
    restart = restart_figures.as_dict()
    if restart["performed"]:
        restart["database_errors_in_children_logs"] = _database_errors_logged(scratch)
    kills = killer.records if killer is not None else []
    counted = with_db_retry(lambda: tally(ids, receiver, kills))
    pauses = [k.restarted_after for k in kills if k.restarted_after is not None]
    figures = {
        "verdict": "ok"
        if not (counted["lost"] or counted["duplicated"] or counted["stuck"])
        else "FAILED",
        "database": connection.vendor,
        "broker": "redis" if child_env.get("KAIROS_REDIS_URL") else "orm",
        "config": {**asdict(config), "due_window": config.due_window},
        **counted,
        "kills": {
            "requested": config.kills,
            "performed": len(kills),
            "skipped_no_victim": killer.skipped if killer else 0,
            "by_group": dict(sorted(Counter(k.name for k in kills).items())),
            "processes_killed": sum(len(k.pids) for k in kills),
            "restart_pause_s": {
                "max": max(pauses) if pauses else None,
                "mean": round(sum(pauses) / len(pauses), 2) if pauses else None,
            },
            "crashes_restarted": fleet.crashes,
            "killed_at_stop": killed_at_stop,
            "errors": killer.errors[:10] if killer else [],
        },
        "db_restart": restart,
        "receiver": receiver.figures(),
        "settled": settled,
        "settle_s": settle_s,
        "run_s": round(time.monotonic() - began, 1),
        "logs": str(scratch),
    }
    return figures


def run(*, quick: bool, scratch: Path) -> dict:
    """The benchmark suite: the full scenario, or the short one with ``--quick``."""
    config = ChaosConfig.short() if quick else ChaosConfig.full()
    seed = os.environ.get("KAIROS_CHAOS_SEED")
    if seed:
        config = replace(config, seed=int(seed))
    return run_chaos(config, scratch / "chaos")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chaos", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the short scenario")
    parser.add_argument("--database-url", default=os.environ.get("KAIROS_BENCH_DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("KAIROS_BENCH_REDIS_URL"))
    args = parser.parse_args(argv)
    from benchmarks.environment import prepare

    scratch = prepare(args.database_url, redis_url=args.redis_url)
    figures = run(quick=args.quick, scratch=scratch)
    print(json.dumps(figures, indent=2, default=str))
    return 0 if figures["verdict"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
