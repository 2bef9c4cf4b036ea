"""Run the benchmark suites and print their figures as JSON.

    python -m benchmarks                  # every suite, full size
    python -m benchmarks delivery --quick # one suite, small sizes (a smoke run)
    python -m benchmarks --save           # also record the figures in benchmarks/results/
    python -m benchmarks delivery chaos --database-url postgres://… --redis-url redis://… \
        --save --label postgresql-redis   # the production stack (make benchmark starts one)

Each suite gets a throwaway database (SQLite unless ``--database-url``) and scratch directory.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

SUITES = (
    "delivery",
    "chaos",
    "api",
    "experiments",
    "ab_engine",
    "email",
    "networks",
    "recurrence",
    "crisis",
    "moments",
    "calendar_page",
    "imports",
    "listening",
)
RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "suites",
        nargs="*",
        choices=[*SUITES, []],
        default=[],
        metavar="SUITE",
        help=f"any of {', '.join(SUITES)} (default: all available)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--database-url", default=os.environ.get("KAIROS_BENCH_DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("KAIROS_BENCH_REDIS_URL"))
    parser.add_argument("--save", action="store_true", help="write results/<suite>.json as well")
    parser.add_argument(
        "--label", default="", help="save as results/<suite>-<label>.json (e.g. the stack)"
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.environment import prepare

    scratch = prepare(args.database_url, redis_url=args.redis_url)
    from django.db import connection

    suites = args.suites or [s for s in SUITES if importlib.util.find_spec(f"benchmarks.{s}")]
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "database": connection.vendor,
        },
        "quick": args.quick,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "suites": {},
    }
    for name in suites:
        module = importlib.import_module(f"benchmarks.{name}")
        started = time.monotonic()
        figures = module.run(quick=args.quick, scratch=scratch)
        figures["suite_seconds"] = round(time.monotonic() - started, 1)
        report["suites"][name] = figures
        if args.save:
            RESULTS.mkdir(exist_ok=True)
            stem = f"{name}-{args.label}" if args.label else name
            (RESULTS / f"{stem}.json").write_text(
                json.dumps({**report, "suites": {name: figures}}, indent=2) + "\n"
            )
    print(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
