"""Database work that survives a database restart (a fail-over, a PostgreSQL restart).

A worker that has just posted must be able to record it, even if the database is briefly away:
dropping the outcome would make the next attempt post again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

__all__ = ["with_db_retries"]

logger = logging.getLogger("kairos.delivery")
T = TypeVar("T")


def with_db_retries(what: str, operation: Callable[[], T]) -> T:
    """Run ``operation`` (a whole transaction), again on a fresh connection while the database
    is restarting, for up to ``KAIROS_DB_RETRY_WINDOW`` seconds; then let the error through.

    Inside an outer transaction (tests) a reconnect would lose the outer work: no retry there.
    """
    deadline = time.monotonic() + settings.KAIROS_DB_RETRY_WINDOW
    pause = 0.2
    while True:
        try:
            return operation()
        except (OperationalError, InterfaceError):
            if connection.in_atomic_block or time.monotonic() + pause > deadline:
                raise
            logger.warning("database unavailable while %s; retrying in %.1fs", what, pause)
            connection.close()
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
