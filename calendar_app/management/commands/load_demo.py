"""Load the demo: North Star Agency, three brands, a year of events, reactive templates, an A/B test
and content in every state — plus demo users to log in with.

Idempotent: run it again and nothing is duplicated. Reference data (the workspace, brands, events,
the experiment) is refreshed from the fixtures; rows whose life goes on after loading (channels,
whose secrets someone may have set; reactive templates and content items, which carry approvals
and workflow history) are only created when missing.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.exceptions import ValidationError
from django.core.management import BaseCommand, CommandError, call_command
from django.db import transaction
from django.utils import timezone

from calendar_app import planner_statistics, workflow
from calendar_app.fit_records import refresh_fits
from calendar_app.models import (
    Brand,
    ContentItem,
    ContentStatus,
    Event,
    Membership,
    ReactiveTemplate,
    Role,
    Workspace,
)
from calendar_app.recurrence import last_occurrence_end
from calendar_app.workflow import Actor

FIXTURES = Path(settings.BASE_DIR) / "fixtures"
WORKSPACE_SLUG = "north-star"
PASSWORD = "kairos-demo"

#: Loaded with ``loaddata``: refreshed on every run.
REFERENCE = ["01_workspace.json", "02_brands.json", "04_events.json", "05_experiments.json"]
#: Created when missing, left alone afterwards.
CREATE_ONLY = ["03_channels.json", "06_reactive_templates.json", "07_content.json"]
ORDER = sorted(REFERENCE + CREATE_ONLY)

#: (username, role in the workspace, staff, superuser, what they are for)
USERS = [
    ("admin", Role.ADMIN, True, True, "superuser: sees every workspace"),
    (
        "marketer",
        Role.APPROVER,
        True,
        False,
        "approver: approves, schedules, fires reactive templates",
    ),
    ("editor", Role.EDITOR, True, False, "editor: writes and submits drafts"),
    ("viewer", Role.VIEWER, True, False, "viewer: reads only"),
]

#: Where each demo content item ends up, moved there through the workflow (never set by hand).
TARGET_STATES = {
    501: ContentStatus.SCHEDULED,
    502: ContentStatus.APPROVED,
    503: ContentStatus.SCHEDULED,
    504: ContentStatus.IN_REVIEW,
    505: ContentStatus.SCHEDULED,
    506: ContentStatus.DRAFT,
    507: ContentStatus.DRAFT,
    508: ContentStatus.DRAFT,
    509: ContentStatus.APPROVED,
    510: ContentStatus.IN_REVIEW,
}


#: The plan of the current month (:meth:`Command.plan_this_month`).
THIS_MONTH_TITLES = [
    "Monday motivation",
    "Behind the scenes",
    "Customer story",
    "Weekend teaser",
    "Product tip",
    "Team spotlight",
    "Poll of the week",
    "New in store",
]
THIS_MONTH_BODIES = [
    "A new week, a fresh start. What are you planning?",
    "How our team gets it ready, from the first sketch to your door.",
    "“It changed my mornings.” One customer tells us how.",
    "Something is coming this weekend. Stay tuned.",
    "One tip in one minute: get more out of what you already have.",
    "Meet the people behind the product.",
    "Which one would you pick? Tell us below.",
    "Just arrived: see what is new this week.",
]
THIS_MONTH_TIMES = [(9, 0), (12, 30), (17, 0), (10, 15)]
THIS_MONTH_STATES = [
    ContentStatus.SCHEDULED,
    ContentStatus.APPROVED,
    ContentStatus.IN_REVIEW,
    ContentStatus.SCHEDULED,
    ContentStatus.DRAFT,
]
THIS_MONTH_STATES_PAST = [ContentStatus.APPROVED, ContentStatus.DRAFT, ContentStatus.IN_REVIEW]


class Command(BaseCommand):
    help = "Load the Kairos demo data (idempotent) and create the demo users."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--no-users", action="store_true", help="Do not create or reset demo users."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if getattr(settings, "KAIROS_ENV", "development") == "production":
            raise CommandError(
                "load_demo creates users with a published password: it refuses to run when "
                "KAIROS_ENV=production."
            )
        with transaction.atomic():
            counts = self.load_fixtures()
            workspace = Workspace.objects.get(slug=WORKSPACE_SLUG)
            users = {} if options["no_users"] else self.create_users(workspace)
            fits = self.refresh_fits(workspace)
            approved = self.approve_templates(workspace, users.get("marketer"))
            moved = self.advance_content(workspace, users)
            planned = self.plan_this_month(workspace, users)
        planner_statistics.refresh()  # the demo's tables, as the daily schedule would
        self.report(counts, fits, approved, moved, users)
        self.stdout.write(f"  this month's plan: {planned} post(s) dated around today")

    # --- steps -----------------------------------------------------------------------------
    def load_fixtures(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for name in ORDER:
            path = FIXTURES / name
            if name in REFERENCE:
                call_command("loaddata", str(path), verbosity=0)
                counts[name] = len(
                    list(serializers.deserialize("json", path.read_text(), ignorenonexistent=True))
                )
            else:
                counts[name] = self.create_missing(path)
        # Raw fixture loads skip Event.save(): make sure the stored end of recurrence is right.
        for event in Event.objects.filter(
            workspace__isnull=True, external_uid__startswith="kairos-demo-"
        ):
            end = last_occurrence_end(
                starts_at=event.starts_at,
                ends_at=event.ends_at,
                time_zone=event.time_zone,
                rule_text=event.rrule,
            )
            if end != event.recurrence_ends_at:
                Event.objects.filter(pk=event.pk).update(recurrence_ends_at=end)
        return counts

    def create_missing(self, path: Path) -> int:
        """Save the fixture's objects whose primary key is not in the database yet."""
        created = 0
        for deserialized in serializers.deserialize("json", path.read_text()):
            model = type(deserialized.object)
            if model._default_manager.filter(pk=deserialized.object.pk).exists():
                continue
            deserialized.save()
            created += 1
        return created

    def create_users(self, workspace: Workspace) -> dict[str, Any]:
        user_model = get_user_model()
        users = {}
        for username, role, staff, superuser, _ in USERS:
            user, _ = user_model.objects.get_or_create(
                username=username, defaults={"email": f"{username}@north-star.example"}
            )
            user.is_staff, user.is_superuser, user.is_active = staff, superuser, True
            user.set_password(PASSWORD)
            user.save()
            Membership.objects.update_or_create(
                workspace=workspace, user=user, defaults={"role": role}
            )
            users[username] = user
        return users

    def refresh_fits(self, workspace: Workspace) -> int:
        return refresh_fits(
            brands=Brand.objects.filter(workspace=workspace),
            events=Event.objects.visible_to(workspace),
        )

    def approve_templates(self, workspace: Workspace, approver: Any) -> int:
        approved = 0
        for template in ReactiveTemplate.objects.filter(workspace=workspace):
            if template.is_approved:
                continue
            template.approved_by = approver
            template.approved_at = timezone.now()
            template.approved_version = template.version
            template.approved_hash = template.content_hash()
            template.save(
                update_fields=[
                    "approved_by",
                    "approved_at",
                    "approved_version",
                    "approved_hash",
                    "updated_at",
                ]
            )
            approved += 1
        return approved

    def advance_content(self, workspace: Workspace, users: dict[str, Any]) -> list[str]:
        """Move fresh demo items (still drafts with no history) to their demo state."""
        editor = (
            Actor.for_user(users["editor"], workspace)
            if "editor" in users
            else Actor.system("demo")
        )
        approver = (
            Actor.for_user(users["marketer"], workspace)
            if "marketer" in users
            else Actor.system("demo")
        )
        steps = {
            ContentStatus.DRAFT: [],
            ContentStatus.IN_REVIEW: [(workflow.submit, editor)],
            ContentStatus.APPROVED: [(workflow.submit, editor), (workflow.approve, approver)],
            ContentStatus.SCHEDULED: [
                (workflow.submit, editor),
                (workflow.approve, approver),
                (workflow.schedule, approver),
            ],
        }
        moved = []
        items = ContentItem.objects.filter(
            workspace=workspace, pk__in=TARGET_STATES, status=ContentStatus.DRAFT
        )
        for item in items.order_by("pk"):
            if item.transitions.exists():
                continue  # someone already worked on it: leave it be
            if item.created_by_id is None and "editor" in users:
                ContentItem.objects.filter(pk=item.pk).update(created_by=users["editor"])
            try:
                for step, actor in steps[TARGET_STATES[item.pk]]:
                    item = step(item, actor)
            except (workflow.WorkflowError, ValidationError) as exc:
                self.stderr.write(f"  could not move “{item.title}”: {exc}")
                continue
            moved.append(f"{item.title} → {item.get_status_display()}")
        return moved

    def plan_this_month(self, workspace: Workspace, users: dict[str, Any]) -> int:
        """Posts dated relative to today, so a newcomer opens the calendar on a full month.

        The fixtures' own posts belong to their events (a Super Bowl in February); these fill
        the current month and the start of the next one, across the brands, in the states a
        team sees every day. Past days hold drafts and posts waiting or approved; days to come
        also hold scheduled ones (nothing is scheduled in the past: it would go out at once).
        Keyed by title and month: loading again the same month adds nothing.
        """
        editor = Actor.for_user(users["editor"], workspace) if "editor" in users else None
        approver = Actor.for_user(users["marketer"], workspace) if "marketer" in users else None
        system = Actor.system("demo")
        brands = list(Brand.objects.filter(workspace=workspace).order_by("pk"))
        if not brands:
            return 0
        now = timezone.now()
        zone = brands[0].tz
        today = now.astimezone(zone).date()
        first = today.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        days = [first + timedelta(days=n) for n in range(0, (following - first).days, 2)]
        days += [following + timedelta(days=n) for n in (1, 3, 6)]
        created = 0
        for index, day in enumerate(days):
            brand = brands[index % len(brands)]
            title = f"{THIS_MONTH_TITLES[index % len(THIS_MONTH_TITLES)]} ({brand.name})"
            hour, minute = THIS_MONTH_TIMES[index % len(THIS_MONTH_TIMES)]
            when = datetime.combine(day, time(hour, minute), tzinfo=brand.tz)
            month_start = datetime.combine(day.replace(day=1), time.min, tzinfo=brand.tz)
            if ContentItem.objects.filter(
                workspace=workspace,
                title=title,
                scheduled_at__gte=month_start,
                scheduled_at__lt=month_start + timedelta(days=32),
            ).exists():
                continue
            item = ContentItem.objects.create(
                workspace=workspace,
                brand=brand,
                title=title,
                body=THIS_MONTH_BODIES[index % len(THIS_MONTH_BODIES)],
                scheduled_at=when,
                created_by=users.get("editor"),
            )
            item.channels.set(brand.channels.filter(status="connected"))
            created += 1
            future = when > now + timedelta(hours=1)
            states = THIS_MONTH_STATES if future else THIS_MONTH_STATES_PAST
            target = states[index % len(states)]
            steps = {
                ContentStatus.DRAFT: [],
                ContentStatus.IN_REVIEW: [(workflow.submit, editor)],
                ContentStatus.APPROVED: [(workflow.submit, editor), (workflow.approve, approver)],
                ContentStatus.SCHEDULED: [
                    (workflow.submit, editor),
                    (workflow.approve, approver),
                    (workflow.schedule, approver),
                ],
            }[target]
            try:
                for step, actor in steps:
                    item = step(item, actor or system)
            except (workflow.WorkflowError, ValidationError) as exc:
                self.stderr.write(f"  could not move “{item.title}”: {exc}")
        return created

    def report(
        self,
        counts: dict[str, int],
        fits: int,
        approved: int,
        moved: list[str],
        users: dict[str, Any],
    ) -> None:
        out = self.stdout
        out.write(self.style.SUCCESS("Kairos demo loaded: North Star Agency (north-star)."))
        for name in ORDER:
            verb = "loaded" if name in REFERENCE else "created"
            out.write(f"  {name}: {counts[name]} object(s) {verb}")
        out.write(f"  brand fits computed: {fits}")
        out.write(f"  reactive templates approved now: {approved}")
        for line in moved:
            out.write(f"  content: {line}")
        if users:
            out.write("")
            out.write(f"Log in at /admin/ with (password for all: {PASSWORD}):")
            for username, _, _, _, what in USERS:
                out.write(f"  {username:<9} {what}")
