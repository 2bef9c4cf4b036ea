"""Logging filters: the worker's log says what happened, not that it is alive.

django-q2 logs two INFO lines for every task it runs ("Process-… processing …" and "Processed
…"). Kairos runs a heartbeat every few seconds and a wake-up task per due batch, so those lines
buried the ones that matter (a post published or failed, a claim lost, the database gone). The
filter drops only those two INFO lines; django-q2's warnings and errors (a task failed, timed
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
        if message.startswith("Processed "):
            return False
        return not (message.startswith("Process-") and " processing " in message)
