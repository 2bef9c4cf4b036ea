"""``manage.py create_api_token <workspace> --name ... --role ... [--user ...] [--days N]``

Issues a token and prints it once (only its hash is stored): the way to get the first token,
before anyone can use the API to issue more.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from calendar_app.models import ApiToken, Membership, Role, Workspace


class Command(BaseCommand):
    help = "Issue an API token for a workspace and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workspace", help="Workspace slug.")
        parser.add_argument("--name", default="CLI token", help="What the token is for.")
        parser.add_argument("--role", default=Role.EDITOR, choices=[r.value for r in Role])
        parser.add_argument(
            "--user", help="Username of a member: a personal token (default: a workspace API key)."
        )
        parser.add_argument("--days", type=int, help="Expire after this many days.")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {options['workspace']!r}.")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if (
                user is None
                or not Membership.objects.filter(workspace=workspace, user=user).exists()
            ):
                raise CommandError(f"{options['user']!r} is not a member of {workspace.slug}.")
        expires_at = None
        if options["days"] is not None:
            if options["days"] <= 0:
                raise CommandError("--days must be positive.")
            expires_at = timezone.now() + timedelta(days=options["days"])
        token, clear = ApiToken.issue(
            workspace=workspace,
            name=options["name"],
            role=options["role"],
            user=user,
            expires_at=expires_at,
        )
        self.stderr.write(
            f"Token {token.prefix}… ({token.role}) for {workspace.slug}. Store it now: it is not shown again."
        )
        self.stdout.write(clear)
