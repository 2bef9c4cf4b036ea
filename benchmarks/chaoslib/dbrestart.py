"""Restarting PostgreSQL in the middle of a burst, and measuring how long it was unreachable.

The restart command comes from the operator (``KAIROS_CHAOS_PG_RESTART``, a shell command such
as ``runuser -u postgres -- pg_ctl -D DIR -m fast restart -w -o "..."``): the harness does not
know how the server was started. While it runs, a probe opens a fresh connection every 50 ms; the
outage is the time from the first refused probe to the first accepted one after it.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass

__all__ = ["DatabaseRestart", "RestartFigures"]


@dataclass
class RestartFigures:
    performed: bool = False
    skipped_reason: str = ""
    command_seconds: float | None = None
    outage_seconds: float | None = None
    returncode: int | None = None
    output: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


class DatabaseRestart(threading.Thread):
    """Runs ``command`` at monotonic time ``at`` and probes the server with ``conninfo``."""

    def __init__(
        self,
        command: str,
        *,
        at: float,
        conninfo: Mapping[str, object],
        timeout: float = 120.0,
    ) -> None:
        super().__init__(name="chaos-db-restart", daemon=True)
        self.command = command
        self.at = at
        self.conninfo = dict(conninfo)
        self.timeout = timeout
        self.figures = RestartFigures()
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def _probe(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(**self.conninfo, connect_timeout=1) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def run(self) -> None:
        self._stopping.wait(max(0.0, self.at - time.monotonic()))
        if self._stopping.is_set():
            self.figures.skipped_reason = "the run ended before the restart was due"
            return
        started = time.monotonic()
        proc = subprocess.Popen(
            self.command,
            shell=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        first_refused: float | None = None
        back_at: float | None = None
        finished_at: float | None = None
        deadline = started + self.timeout
        while time.monotonic() < deadline:
            if finished_at is None and proc.poll() is not None:
                finished_at = time.monotonic()
            up = self._probe()
            now = time.monotonic()
            if not up and first_refused is None:
                first_refused = now
            if up and first_refused is not None and back_at is None:
                back_at = now
            if finished_at is not None and up:
                break
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
        output = proc.communicate(timeout=10)[0] or ""
        self.figures = RestartFigures(
            performed=True,
            command_seconds=round((finished_at or time.monotonic()) - started, 2),
            outage_seconds=round(back_at - first_refused, 2)
            if first_refused is not None and back_at is not None
            else (0.0 if first_refused is None else None),
            returncode=proc.returncode,
            output=output[-500:],
        )
