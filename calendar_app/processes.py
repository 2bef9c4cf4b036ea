"""Running several ``manage.py`` commands as child processes that stop together.

Used by ``runkairos`` (the newcomer's one command), by the end-to-end tests and by the benchmarks.
Each child gets its own process group, so stopping it also stops what it started (django-q2's
cluster forks its workers), and a crash can be simulated with SIGKILL on the whole group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent


def _pump(name: str, stream: IO[str], out: IO[str]) -> None:
    for line in iter(stream.readline, ""):
        out.write(f"[{name}] {line}")
        out.flush()


class ProcessGroup:
    """Named ``manage.py`` children; output goes to ``log_dir/<name>.log`` or, prefixed, to ``echo``."""

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        log_dir: Path | None = None,
        echo: IO[str] | None = None,
    ) -> None:
        self.env = dict(env if env is not None else os.environ)
        self.log_dir = log_dir
        self.echo = echo
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *argv: str) -> subprocess.Popen:
        command = [sys.executable, str(ROOT / "manage.py"), *argv]
        if self.log_dir is not None:
            with open(self.log_dir / f"{name}.log", "ab") as log:
                proc = subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        else:
            proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.PIPE if self.echo else None,
                stderr=subprocess.STDOUT if self.echo else None,
                text=True,
                bufsize=1,
                start_new_session=True,
            )
            if self.echo is not None:
                threading.Thread(
                    target=_pump, args=(name, proc.stdout, self.echo), daemon=True
                ).start()
        self.running[name] = proc
        return proc

    def exited(self) -> dict[str, int]:
        """Children that have stopped on their own, with their exit codes."""
        return {
            name: proc.returncode for name, proc in self.running.items() if proc.poll() is not None
        }

    def kill(self, name: str) -> None:
        """SIGKILL the child's whole group: a crash, not a shutdown (nothing gets to clean up)."""
        proc = self.running.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self, timeout: float = 15) -> list[str]:
        """SIGTERM every child, wait, then SIGKILL what is left; returns the names that were killed.

        Only the leader gets SIGTERM: django-q2's cluster stops its own workers in order, and
        signalling them all at once leaves its sentinel waiting for processes that are gone.
        """
        for proc in self.running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        killed = []
        for name, proc in self.running.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                killed.append(name)
        self.running.clear()
        return killed

    def logs(self, tail: int = 4000) -> str:
        if self.log_dir is None:
            return ""
        return "\n".join(
            f"--- {path.name} ---\n{path.read_text(errors='replace')[-tail:]}"
            for path in sorted(self.log_dir.glob("*.log"))
        )
