"""Crisis playbooks from the shell, when the admin or the API is out of reach::

    manage.py crisis activate PLAYBOOK_ID --as USER [--reason TEXT]
    manage.py crisis drill PLAYBOOK_ID --as USER [--reason TEXT]
    manage.py crisis resume CRISIS_ID --as USER [--publication ID ...]

The same services, rules and roles as the API (activate and resume need approver, drill editor);
a refusal exits non-zero with its reason, and nothing is changed.
"""

from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from calendar_app.crisis import services
from calendar_app.crisis.models import Activation, Playbook
from calendar_app.workflow import Actor


class Command(BaseCommand):
    help = "Activate, drill or resume a crisis playbook on behalf of a member."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        for verb, target in (("activate", "playbook_id"), ("drill", "playbook_id")):
            command = sub.add_parser(verb)
            command.add_argument(target, type=int)
            command.add_argument("--as", dest="username", required=True)
            command.add_argument("--reason", default="")
        resume = sub.add_parser("resume")
        resume.add_argument("crisis_id", type=int)
        resume.add_argument("--as", dest="username", required=True)
        resume.add_argument(
            "--publication",
            action="append",
            type=int,
            default=None,
            help="Release only this held publication; repeat. Default: all (ends the crisis).",
        )

    def _user(self, username: str):
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user named {username!r}.") from exc

    def _playbook(self, pk: int) -> Playbook:
        try:
            return Playbook.objects.select_related("workspace").get(pk=pk)
        except Playbook.DoesNotExist as exc:
            raise CommandError(f"No crisis playbook with id {pk}.") from exc

    def handle(self, *args, verb: str, username: str, **options) -> None:
        user = self._user(username)
        try:
            if verb == "activate":
                playbook = self._playbook(options["playbook_id"])
                actor = Actor.for_user(user, playbook.workspace)
                activation = services.activate(playbook, actor, options["reason"])
                self.stdout.write(
                    self.style.WARNING(
                        f"Crisis {activation.pk} “{playbook.name}” is active: "
                        f"{activation.held_count} post(s) held, "
                        f"{len(activation.not_recalled)} already being sent "
                        f"({activation.duration_ms} ms)."
                    )
                )
                for statement in activation.holding_statements:
                    self.stdout.write(
                        f"  holding statement “{statement['name']}”: {statement['status']}"
                    )
            elif verb == "drill":
                playbook = self._playbook(options["playbook_id"])
                record = services.drill(
                    playbook, Actor.for_user(user, playbook.workspace), options["reason"]
                )
                self.stdout.write(json.dumps(record.report, indent=2, sort_keys=True))
            else:
                try:
                    activation = Activation.objects.select_related("workspace").get(
                        pk=options["crisis_id"]
                    )
                except Activation.DoesNotExist as exc:
                    raise CommandError(f"No crisis with id {options['crisis_id']}.") from exc
                result = services.resume(
                    activation, Actor.for_user(user, activation.workspace), options["publication"]
                )
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Released {len(result.released)}, skipped {len(result.skipped)} "
                        f"(moment passed); "
                        + ("the crisis is over." if result.ended else "the crisis goes on.")
                    )
                )
        except services.CrisisError as exc:
            raise CommandError(f"Refused ({exc.code}): {exc}") from exc
