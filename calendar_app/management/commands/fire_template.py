"""Fire a reactive template from the shell: ``manage.py fire_template ID --as USER --value k=v``."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from calendar_app.models import ReactiveTemplate
from calendar_app.reactive import FireRefused, fire_template
from calendar_app.workflow import Actor


class Command(BaseCommand):
    help = "Fire a pre-approved reactive template now, on behalf of an approver."

    def add_arguments(self, parser) -> None:
        parser.add_argument("template_id", type=int)
        parser.add_argument(
            "--as", dest="username", required=True, help="The approver who fires it."
        )
        parser.add_argument(
            "--value",
            action="append",
            default=[],
            metavar="NAME=TEXT",
            help="A placeholder value; repeat for each placeholder.",
        )
        parser.add_argument(
            "--channel", action="append", type=int, default=None, help="Limit to these channel ids."
        )

    def handle(
        self,
        *args,
        template_id: int,
        username: str,
        value: list[str],
        channel: list[int] | None,
        **options,
    ) -> None:
        try:
            template = ReactiveTemplate.objects.select_related("brand").get(pk=template_id)
        except ReactiveTemplate.DoesNotExist as exc:
            raise CommandError(f"No reactive template with id {template_id}.") from exc
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user named {username!r}.") from exc
        values = {}
        for pair in value:
            name, sep, text = pair.partition("=")
            if not sep or not name.strip():
                raise CommandError(f"--value takes NAME=TEXT, not {pair!r}.")
            values[name.strip()] = text
        try:
            fire = fire_template(
                template, Actor.for_user(user, template.workspace), values, channel_ids=channel
            )
        except FireRefused as exc:
            raise CommandError(f"Not fired ({exc.code}): {exc}") from exc
        publications = fire.content_item.publications.select_related("channel")
        self.stdout.write(
            self.style.SUCCESS(f"Fired “{template.name}” at {fire.fired_at:%H:%M:%S} UTC.")
        )
        for publication in publications:
            self.stdout.write(f"  {publication.channel}: {publication.status}")
