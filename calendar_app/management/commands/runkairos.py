"""Run everything a newcomer needs in one terminal: the web server and the django-q2 worker.

Each part is a child process with its output prefixed by its name; Ctrl-C (or SIGTERM) stops all
of them, and if one part dies the others are stopped too, so a half-running Kairos never lingers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import IO

from django.core.management.base import BaseCommand

#: Extra long-running parts (name -> manage.py arguments) other modules add, e.g. the dispatcher.
EXTRA_PARTS: dict[str, list[str]] = {}


def _pump(name: str, stream: IO[str], out: IO[str]) -> None:
    for line in iter(stream.readline, ""):
        out.write(f"[{name}] {line}")
        out.flush()


class Command(BaseCommand):
    help = "Run the web server (admin, API) and the django-q2 worker together; Ctrl-C stops both."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Address for the web server.")
        parser.add_argument("--no-worker", action="store_true", help="Run only the web server.")

    def parts(self, addr: str, worker: bool) -> dict[str, list[str]]:
        parts = {"web": ["runserver", addr, "--noreload"]}
        if worker:
            parts["worker"] = ["qcluster"]
            parts.update(EXTRA_PARTS)
        return parts

    def handle(self, *args, addr: str, no_worker: bool, **options) -> None:
        manage = [sys.executable, os.path.abspath(sys.argv[0])]
        children: dict[str, subprocess.Popen] = {}
        for name, argv in self.parts(addr, not no_worker).items():
            proc = subprocess.Popen(
                [*manage, *argv],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
                start_new_session=True,  # our Ctrl-C handler decides how children stop
            )
            threading.Thread(
                target=_pump, args=(name, proc.stdout, self.stdout), daemon=True
            ).start()
            children[name] = proc
        self.stdout.write(
            self.style.SUCCESS(
                f"Kairos is running: admin at http://{addr}/admin/ — press Ctrl-C to stop."
            )
        )

        stopping = threading.Event()

        def stop(*_: object) -> None:
            stopping.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping.is_set():
            dead = {
                name: proc.returncode for name, proc in children.items() if proc.poll() is not None
            }
            if dead:
                self.stderr.write(
                    f"Stopping: {', '.join(f'{n} exited ({c})' for n, c in dead.items())}"
                )
                exit_code = 1
                break
            stopping.wait(0.5)
        self._stop(children)
        if exit_code:
            sys.exit(exit_code)

    def _stop(self, children: dict[str, subprocess.Popen]) -> None:
        for proc in children.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for name, proc in children.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in time; killing it.")
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.stdout.write("Kairos stopped.")
