"""django-q2 entry points. Thin on purpose, and they take ids only (django-q2 fishes its own
options out of keyword arguments, so a task keyword could collide with one of them)."""

from __future__ import annotations

import os
import socket

from calendar_app import delivery, dispatcher, metrics


def deliver(publication_id: int) -> str:
    report = delivery.deliver_publication(publication_id)
    return "not-claimed" if report is None else report.outcome


def deliver_many(publication_ids: list[int]) -> dict[str, int]:
    """A batch from one burst, delivered in due order; each publication is claimed on its own."""
    outcomes: dict[str, int] = {}
    for publication_id in publication_ids:
        outcome = deliver(publication_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def sweep() -> int:
    """Safety net every minute: release dead claims, then queue whatever is due or overdue."""
    delivery.recover_stale_claims()
    return len(dispatcher.dispatch_due())


def collect_metrics() -> int:
    return metrics.collect_recent()


def worker_heartbeat() -> str:
    """Proves that the queue → worker path works, not only that the dispatcher is alive."""
    name = f"worker@{socket.gethostname()}:{os.getpid()}"
    dispatcher.beat(name, "worker")
    return name
