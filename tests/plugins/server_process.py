"""What every real server the plugin tests start (Synapse, mastodon-mock, the Bluesky PDS,
pymap) does the same way: stop its whole process group, and be skipped when it cannot be
installed here but fail under ``CI``, which must not silently lose a network's coverage."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from typing import NoReturn

import pytest

STOP_WAIT_S = 10


def stop_group(proc: subprocess.Popen | None) -> None:
    """SIGTERM the server's process group (it may have forked workers), SIGKILL what is left
    after :data:`STOP_WAIT_S`; a process that already ended is left alone."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_WAIT_S)


def unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it under ``CI``."""
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
