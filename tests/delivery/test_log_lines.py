"""The worker's log: one line per event that matters, none per task tick."""

from __future__ import annotations

import logging

from calendar_app.logfilters import QuietTaskChatter


def _record(message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("django-q", level, __file__, 1, message, None, None)


def test_the_heartbeat_ticks_are_not_logged_but_failures_and_starts_are():
    quiet = QuietTaskChatter()
    assert not quiet.filter(
        _record(
            "Process-350e processing kairos-heartbeat 'calendar_app.tasks.worker_heartbeat' "
            "[kairos-heartbeat]"
        )
    )
    assert not quiet.filter(_record("Processed 'calendar_app.tasks.worker_heartbeat' (x)"))
    # What `make run` printed every 5 s (the dispatcher) and every 30 s per schedule (the worker).
    assert not quiet.filter(_record("Enqueued [kairos] 52"))
    assert not quiet.filter(
        _record(
            "Process-741ab created task butter-cola-undress-mirror from schedule [kairos.sweep]"
        )
    )
    assert quiet.filter(
        _record("Process-741ab failed to create a task from schedule [kairos.sweep]", 40)
    )
    assert quiet.filter(_record("Q Cluster colorado-orange [kairos] running."))
    assert quiet.filter(_record("Failed 'calendar_app.tasks.drain' - boom", logging.ERROR))


def test_the_filter_is_installed_on_django_q_logger():
    from django.conf import settings

    assert settings.LOGGING["loggers"]["django-q"]["filters"] == ["quiet_tasks"]
