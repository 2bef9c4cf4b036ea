"""Counting what became of every publication: the receiver's view against the database's.

Definitions (the verdict of a chaos run):

* **stuck**: still in an open state (pending, queued, publishing) when the settle period ends.
* **lost**: in a final state, but not on the receiver and not explained either: marked published
  while the receiver never processed it, or failed/unconfirmed/skipped without a reason.
* **duplicated**: the same publication arrived under two idempotency keys (no receiver can
  deduplicate that), or its attempt log records two successful publishes.

Recovery after a kill: the publications the killed processes had claimed (snapshot just after
the kill, plus attempts by those pids still open at that instant); the time from the kill until
the last of them reached a final state.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import TypeVar

from benchmarks.chaoslib.fleet import KillRecord
from benchmarks.chaoslib.receiver import ChaosReceiver
from benchmarks.stats import summary

__all__ = ["belongs_to", "inflight_claims", "open_count", "tally", "with_db_retry"]

T = TypeVar("T")
SUCCESS_OUTCOMES = ("published", "reconciled")


def with_db_retry(query: Callable[[], T], *, timeout: float = 60.0) -> T:
    """Run ``query``; on a lost connection (a database restart) reconnect and try again."""
    from django.db import InterfaceError, OperationalError, connection

    deadline = time.monotonic() + timeout
    while True:
        try:
            return query()
        except (OperationalError, InterfaceError):
            if time.monotonic() > deadline:
                raise
            connection.close()
            time.sleep(0.5)


def belongs_to(owner: str, workers: Collection[str]) -> bool:
    """Whether a claim owner or attempt worker is one of ``workers`` (``host:pid``): owners are
    written as ``host:pid`` or, with a per-run token, ``host:pid:token``."""
    return owner in workers or owner.rsplit(":", 1)[0] in workers


def inflight_claims(workers: Sequence[str]) -> list[int]:
    """Publications held by these workers right now (called just after their kill)."""
    from django.db.models import Q

    from calendar_app.models import Publication, PublicationStatus

    if not workers:
        return []
    owned = Q()
    for worker in workers:
        owned |= Q(claimed_by=worker) | Q(claimed_by__startswith=f"{worker}:")
    return list(
        Publication.objects.filter(owned, status=PublicationStatus.PUBLISHING).values_list(
            "pk", flat=True
        )
    )


def open_count(ids: Iterable[int]) -> int:
    from calendar_app.models import Publication, PublicationStatus

    return (
        Publication.objects.filter(pk__in=list(ids))
        .filter(status__in=PublicationStatus.open_states())
        .count()
    )


def _final_time(row: dict) -> datetime | None:
    if row["status"] == "published":
        return row["published_at"]
    if row["status"] in ("pending", "queued", "publishing"):
        return None
    return row["updated_at"]


def _recovery(
    kills: Sequence[KillRecord], rows: dict[int, dict], attempts: dict[int, list[dict]]
) -> dict:
    per_kill = []
    unrecovered: set[int] = set()
    for kill in kills:
        workers = set(kill.workers)
        affected = set(kill.inflight or ())
        for pk, log in attempts.items():
            for attempt in log:
                if (
                    belongs_to(attempt["worker"], workers)
                    and attempt["started_at"] <= kill.at
                    and (attempt["finished_at"] is None or attempt["finished_at"] >= kill.at)
                ):
                    affected.add(pk)
        affected &= set(rows)
        if not affected:
            continue
        delays = []
        for pk in affected:
            final = _final_time(rows[pk])
            if final is None:
                unrecovered.add(pk)
            else:
                delays.append(max(0.0, (final - kill.at).total_seconds()))
        per_kill.append(
            {
                "name": kill.name,
                "at": kill.at.isoformat(timespec="milliseconds"),
                "publications": sorted(affected)[:10],
                "affected": len(affected),
                "all_final_s": round(max(delays), 2) if len(delays) == len(affected) else None,
                "first_final_s": round(min(delays), 2) if delays else None,
            }
        )
    complete = [k["all_final_s"] for k in per_kill if k["all_final_s"] is not None]
    slowest = sorted(per_kill, key=lambda k: -(k["all_final_s"] or float("inf")))[:3]
    return {
        "kills_with_inflight_work": len(per_kill),
        "inflight_publications": sum(k["affected"] for k in per_kill),
        "unrecovered_publications": len(unrecovered),
        "recovery_s": summary(complete, digits=2),
        "first_redelivery_s": summary(
            [k["first_final_s"] for k in per_kill if k["first_final_s"] is not None], digits=2
        ),
        "recovery_slowest": slowest,
    }


def tally(
    ids: Sequence[int],
    receiver: ChaosReceiver,
    kills: Sequence[KillRecord],
    *,
    sample: int = 20,
) -> dict:
    """The verdict and the counts of a finished run (processes stopped, nothing moves)."""
    from calendar_app.models import DeliveryAttempt, Publication

    rows = {
        row["pk"]: row
        for row in Publication.objects.filter(pk__in=list(ids)).values(
            "pk",
            "status",
            "idempotency_key",
            "external_id",
            "published_at",
            "updated_at",
            "attempts",
            "claimed_by",
            "last_error_code",
            "last_error_reason",
        )
    }
    attempts: dict[int, list[dict]] = defaultdict(list)
    for attempt in DeliveryAttempt.objects.filter(publication_id__in=list(ids)).values(
        "publication_id", "number", "worker", "started_at", "finished_at", "outcome", "error_code"
    ):
        attempts[attempt["publication_id"]].append(attempt)

    with receiver.lock:
        posts = dict(receiver.posts)
        keys_by_publication = {k: set(v) for k, v in receiver.keys_by_publication.items()}

    statuses: Counter[str] = Counter()
    problems: dict[str, list[int]] = {"lost": [], "duplicated": [], "stuck": []}
    notes: Counter[str] = Counter()
    for pk in ids:
        row = rows.get(pk)
        if row is None:
            problems["lost"].append(pk)
            notes["row_vanished"] += 1
            continue
        statuses[row["status"]] += 1
        post = posts.get(row["idempotency_key"])
        keys = keys_by_publication.get(str(pk), set())
        successes = [a for a in attempts[pk] if a["outcome"] in SUCCESS_OUTCOMES]
        if keys - {row["idempotency_key"]}:
            problems["duplicated"].append(pk)
            notes[
                "arrived_under_several_keys" if len(keys) > 1 else "arrived_under_another_key"
            ] += 1
        elif len(successes) > 1:
            problems["duplicated"].append(pk)
            notes["published_twice_in_attempt_log"] += 1
        if row["status"] in ("pending", "queued", "publishing"):
            problems["stuck"].append(pk)
            if post is not None:
                notes["stuck_but_on_the_receiver"] += 1
        elif post is None:
            if row["status"] == "published":
                problems["lost"].append(pk)
                notes["marked_published_never_received"] += 1
            elif not row["last_error_reason"]:
                problems["lost"].append(pk)
                notes["final_without_reason"] += 1
            else:
                notes[f"{row['status']}_not_received_explained"] += 1
        elif row["status"] == "published":
            if row["external_id"] != post.post_id:
                notes["external_id_mismatch"] += 1
        else:
            notes[f"received_but_marked_{row['status']}"] += 1
    foreign = {k for k in keys_by_publication if not k.isdigit() or int(k) not in rows}

    details = []
    for kind, pks in problems.items():
        for pk in pks[:sample]:
            row = rows.get(pk, {})
            details.append(
                {
                    "problem": kind,
                    "publication": pk,
                    "status": row.get("status"),
                    "attempts": row.get("attempts"),
                    "claimed_by": row.get("claimed_by"),
                    "last_error_code": row.get("last_error_code"),
                    "on_receiver": row.get("idempotency_key") in posts,
                    "attempt_log": [
                        f"{a['number']}:{a['worker']}:{a['outcome'] or 'open'}"
                        f"{':' + a['error_code'] if a['error_code'] else ''}"
                        for a in attempts[pk]
                    ],
                }
            )
    figures = {
        "publications": len(ids),
        "lost": len(problems["lost"]),
        "duplicated": len(problems["duplicated"]),
        "stuck": len(problems["stuck"]),
        "published": statuses["published"],
        "failed": statuses["failed"],
        "unconfirmed": statuses["unconfirmed"],
        "skipped": statuses["skipped"],
        "cancelled": statuses["cancelled"],
        "by_status": dict(sorted(statuses.items())),
        "notes": dict(sorted(notes.items())),
        "attempts_total": sum(len(log) for log in attempts.values()),
        "attempts_by_outcome": dict(
            sorted(
                Counter(a["outcome"] or "open" for log in attempts.values() for a in log).items()
            )
        ),
        "receiver_posts_for_other_publications": len(foreign),
        **_recovery(kills, rows, attempts),
        "problem_samples": details,
    }
    return figures
