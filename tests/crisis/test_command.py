"""``manage.py crisis activate|drill|resume``: the same rules as the API, refusals exit non-zero."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from calendar_app.crisis.models import Activation
from calendar_app.models import PublicationStatus as P
from calendar_app.models import Role
from tests import factories as f
from tests.crisis.conftest import scheduled, statuses

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("crisis", *args, stdout=out)
    return out.getvalue()


def test_drill_activate_resume_from_the_shell(workspace, brand, channel, member):
    post = scheduled(brand, channel)
    playbook = f.PlaybookFactory(workspace=workspace, brand=brand)
    approver = member(Role.APPROVER).username

    report = json.loads(run("drill", str(playbook.pk), "--as", approver))
    assert report["would_hold"] == 1 and statuses(post) == [P.PENDING]

    assert "1 post(s) held" in run("activate", str(playbook.pk), "--as", approver, "--reason", "x")
    assert statuses(post) == [P.HELD]
    with pytest.raises(CommandError, match="already_active"):
        run("activate", str(playbook.pk), "--as", approver)

    crisis = Activation.objects.get(is_drill=False)
    with pytest.raises(CommandError, match="not_held"):
        run("resume", str(crisis.pk), "--as", approver, "--publication", "999999")
    assert "the crisis is over" in run("resume", str(crisis.pk), "--as", approver)
    assert statuses(post) == [P.PENDING]


def test_refusals_name_the_reason(workspace, member):
    playbook = f.PlaybookFactory(workspace=workspace)
    with pytest.raises(CommandError, match="permission_denied"):
        run("activate", str(playbook.pk), "--as", member(Role.EDITOR).username)
    with pytest.raises(CommandError, match="No crisis playbook"):
        run("activate", "999999", "--as", member(Role.ADMIN).username)
    with pytest.raises(CommandError, match="No user"):
        run("drill", str(playbook.pk), "--as", "nobody-here")
