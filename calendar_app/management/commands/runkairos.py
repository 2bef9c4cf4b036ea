"""Run everything a newcomer needs in one terminal: the web server, the django-q2 cluster and the
dispatcher that hands due publications to it on time.

Each part is a child process with its output prefixed by its name; Ctrl-C (or SIGTERM) stops all
of them, and if one part dies the others are stopped too, so a half-running Kairos never lingers.
"""

from __future__ import annotations

import signal
import sys
import threading

from django.core.management.base import BaseCommand

from calendar_app.processes import ProcessGroup


class Command(BaseCommand):
    help = "Run the web server (admin, API), the django-q2 worker and the dispatcher; Ctrl-C stops all."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Address for the web server.")
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="Run only the web server (no worker, no dispatcher).",
        )

    def handle(self, *args, addr: str, no_worker: bool, **options) -> None:
        group = ProcessGroup(echo=self.stdout)
        group.start("web", "runserver", addr, "--noreload")
        if not no_worker:
            group.start("worker", "qcluster")
            group.start("dispatcher", "run_dispatcher")
        self.stdout.write(
            self.style.SUCCESS(
                f"Kairos is running: admin at http://{addr}/admin/ — press Ctrl-C to stop."
            )
        )

        stopping = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopping.set())
        exit_code = 0
        while not stopping.wait(0.5):
            dead = group.exited()
            if dead:
                self.stderr.write(
                    "Stopping: " + ", ".join(f"{n} exited ({c})" for n, c in dead.items())
                )
                exit_code = 1
                break
        for name in group.stop_all(timeout=10):
            self.stderr.write(f"{name} did not stop in time and was killed.")
        self.stdout.write("Kairos stopped.")
        if exit_code:
            sys.exit(exit_code)
