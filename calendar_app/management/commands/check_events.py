"""List stored events that the recurrence checks would refuse today (issue 14, finding 1).

Such rows come from before the checks existed, or from writes around them (raw SQL, bulk
updates). The calendar and the feeds skip them and log a warning; this command names them all
at once, so an operator can fix or delete them (saving one in the admin says what to change).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from calendar_app.models import Event
from calendar_app.recurrence import event_problems


class Command(BaseCommand):
    help = "List events whose rule or dates the recurrence checks refuse; exit 1 if any."

    def handle(self, *args, **options) -> None:
        found = 0
        fields = ("id", "workspace_id", "title", "starts_at", "ends_at", "time_zone", "rrule")
        for event in Event.objects.only(*fields).order_by("id").iterator(chunk_size=500):
            problems = event_problems(
                rule_text=event.rrule,
                starts_at=event.starts_at,
                ends_at=event.ends_at,
                time_zone=event.time_zone,
            )
            if problems:
                found += 1
                owner = f"workspace {event.workspace_id}" if event.workspace_id else "library"
                details = "; ".join(f"{k}: {' '.join(v)}" for k, v in problems.items())
                self.stdout.write(f"event {event.pk} ({owner}) {event.title!r}: {details}")
        if found:
            raise CommandError(f"{found} event(s) would be refused; the calendar skips them.")
        self.stdout.write("Every event passes the recurrence checks.")
