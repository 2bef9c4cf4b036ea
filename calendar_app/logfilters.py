"""Logging filters: the worker's log says what happened, not that it is alive.

django-q2 logs an INFO line for every task it enqueues ("Enqueued [kairos] 52"), runs
("Process-… processing …", "Processed …") and creates from a schedule ("… created task … from
schedule [kairos.sweep]"). Kairos's dispatcher wakes every few seconds and sixteen schedules run
every minute or so, so those lines buried the ones that matter (a post published or failed, a
claim lost, the database gone). The filter drops only those INFO lines; django-q2's warnings and errors (a task failed, timed
out) and its start and stop lines still show, and the delivery pipeline logs one line per
outcome itself (``kairos.delivery``).
"""

from __future__ import annotations

import logging


class QuietTaskChatter(logging.Filter):
    """Drop django-q2's per-task INFO lines; keep everything else."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        message = record.getMessage()
        if message.startswith(("Processed ", "Enqueued [")):
            return False
        if " created task " in message and " from schedule " in message:
            return False
        return not (message.startswith("Process-") and " processing " in message)
