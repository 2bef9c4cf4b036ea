"""``manage.py listening collect|surges|purge-expired``: run a listening schedule now.

The schedules (``kairos.listening_collect``, ``kairos.listening_surges``,
``kairos.listening_retention``) run these on the workers; an operator (or a demo without a
worker) runs them by hand. Each prints how many messages were stored, alerts raised or messages
deleted.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from calendar_app.listening import tasks

JOBS = {
    "collect": (tasks.collect_messages, "new messages stored"),
    "surges": (tasks.check_surges, "alerts raised"),
    "purge-expired": (tasks.purge_expired, "old messages deleted"),
}


class Command(BaseCommand):
    help = "Run a listening schedule now: collect, surges or purge-expired."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("job", choices=sorted(JOBS))

    def handle(self, *args: Any, **options: Any) -> None:
        run, what = JOBS[options["job"]]
        self.stdout.write(f"{run()} {what}")
