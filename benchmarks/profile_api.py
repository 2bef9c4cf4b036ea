"""Where the API's request time goes, in process: cProfile over the scenarios of ``api.py``.

The load benchmark (``api.py``) says *how fast*; this says *why*. It seeds the same data (a smaller
volume by default), then runs each scenario's request through Django's test client (middleware,
authentication, view, serialization) ``--repeat`` times under cProfile, and prints the functions
with the most cumulative and own time. Run it before and after a change to see what moved::

    python -m benchmarks.profile_api                     # 20,000 items, 1,000 events
    python -m benchmarks.profile_api --items 5000 --only calendar_brand_month --top 40
    python -m benchmarks.profile_api --time              # ms/request, without the profiler
    python -m benchmarks.profile_api --database-url postgres://...  # on PostgreSQL (flushed)

Not a suite of ``python -m benchmarks`` (its output is a profile, not figures to record).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import random
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_api")
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--only", action="append", default=[], help="a scenario name (repeatable)")
    parser.add_argument("--sort", default="cumulative", help="pstats sort key")
    parser.add_argument(
        "--database-url",
        default="",
        help="a database to seed and read (flushed first; SQLite in a scratch directory if unset)",
    )
    parser.add_argument("--dump", default="", help="also save each profile as DUMP.<scenario>")
    parser.add_argument(
        "--time",
        action="store_true",
        help="print each scenario's ms/request measured without the profiler (its overhead "
        "doubles the time of code that makes many small calls), instead of the profile",
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.environment import prepare

    prepare(args.database_url or None)
    from django.test import Client, override_settings

    from benchmarks.api import MONTH, seed

    world = seed(args.items, args.events, rng=random.Random(20270501))
    base = f"/api/v1/workspaces/{world['workspace'].slug}"
    month = f"start={MONTH[0]}&end={MONTH[1]}&page_size=100"
    paths = {
        "calendar_brand_month": f"{base}/calendar/?{month}&brand={world['brand'].pk}",
        "calendar_workspace_month": f"{base}/calendar/?{month}&tz=Europe/Paris",
        "content_items_first_page": f"{base}/content-items/",
        "content_item_detail": f"{base}/content-items/{world['item']}/",
        "tracked_redirect": f"/r/{world['code']}",
    }
    # A browser's user agent: without one the redirect takes the bot path (no click recorded).
    client = Client(
        HTTP_AUTHORIZATION=f"Token {world['token']}",
        HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0",
    )
    # As config.wsgi does in a worker: what is loaded so far lives for good, out of the
    # collector's sight; otherwise a full collection lands in whatever function runs then.
    gc.collect()
    gc.freeze()
    with override_settings(ROOT_URLCONF="benchmarks.web"):
        for name, path in paths.items():
            if args.only and name not in args.only:
                continue
            for _ in range(3):  # warm: imports, caches, the token's last-use write
                assert client.get(path).status_code in (200, 302), name
            if args.time:
                best = min(_timed(client, path, args.repeat) for _ in range(5))
                print(f"{name}: {best * 1000:.2f} ms/request (best of 5 runs of {args.repeat})")
                continue
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(args.repeat):
                client.get(path)
            profile.disable()
            if args.dump:
                profile.dump_stats(f"{args.dump}.{name}")
            out = io.StringIO()
            stats = pstats.Stats(profile, stream=out)
            stats.sort_stats(args.sort).print_stats(args.top)
            print(f"==== {name}: {args.repeat} requests ====")
            print(out.getvalue())
    return 0


def _timed(client, path: str, repeat: int) -> float:
    """Seconds per request over ``repeat`` requests, no profiler attached."""
    started = time.perf_counter()
    for _ in range(repeat):
        client.get(path)
    return (time.perf_counter() - started) / repeat


if __name__ == "__main__":
    raise SystemExit(main())
