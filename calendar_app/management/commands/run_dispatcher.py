"""Run the dispatcher loop: wakes workers when publications fall due, recovers lapsed claims."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from calendar_app.delivery.dispatcher import Dispatcher


class Command(BaseCommand):
    help = "Wake django-q2 workers when publications fall due and recover lapsed claims (Ctrl-C stops)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--interval", type=float, default=None, help="Seconds between looks (default 0.25)."
        )
        parser.add_argument(
            "--max-seconds", type=float, default=None, help="Stop after this long (tests)."
        )

    def handle(self, *args, interval: float | None, max_seconds: float | None, **options) -> None:
        dispatcher = Dispatcher(interval=interval)
        dispatcher.install_signal_handlers()
        dispatcher.run(max_seconds=max_seconds)
