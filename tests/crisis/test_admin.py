"""The admin's Activate…, Drill… and Resume… actions: a confirmation page first, then the
service (with the clicking user's role), and the record shown."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse, reverse_lazy

from calendar_app.crisis.models import Activation
from calendar_app.models import PublicationStatus as P
from calendar_app.models import Role
from tests import factories as f
from tests.admin.helpers import messages_of
from tests.crisis.conftest import scheduled, statuses

pytestmark = pytest.mark.django_db
PLAYBOOKS = reverse_lazy("admin:calendar_app_playbook_changelist")
CRISES = reverse_lazy("admin:calendar_app_activation_changelist")


def act(client, url, action, obj, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [obj.pk], "index": 0, **extra}
    return client.post(url, data, follow=True)


def test_activate_asks_first_then_holds_and_resume_releases(
    workspace, brand, channel, staff_member, login
):
    post = scheduled(brand, channel)
    playbook = f.PlaybookFactory(workspace=workspace, brand=brand, name="Checkout down")
    client = login(staff_member(Role.APPROVER))

    page = act(client, PLAYBOOKS, "activate_action", playbook)
    assert page.status_code == 200 and "Activate the crisis" in page.content.decode()
    assert statuses(post) == [P.PENDING]  # nothing yet

    done = act(client, PLAYBOOKS, "activate_action", playbook, apply="1", reason="Checkout down")
    assert "is active: 1 scheduled post(s) held" in " ".join(messages_of(done))
    assert statuses(post) == [P.HELD]
    activation = Activation.objects.get(is_drill=False)
    assert activation.reason == "Checkout down"

    detail = client.get(reverse("admin:calendar_app_activation_change", args=[activation.pk]))
    assert detail.status_code == 200 and f"#{post.pk}" in detail.content.decode()

    again = act(client, PLAYBOOKS, "activate_action", playbook, apply="1")
    assert "already active" in " ".join(messages_of(again))

    confirm = act(client, CRISES, "resume_action", activation)
    assert "Resume and end the crisis" in confirm.content.decode()
    resumed = act(client, CRISES, "resume_action", activation, apply="1")
    assert "1 post(s) released" in " ".join(messages_of(resumed))
    assert statuses(post) == [P.PENDING]


def test_an_editor_may_drill_but_not_activate(workspace, brand, channel, staff_member, login):
    post = scheduled(brand, channel)
    playbook = f.PlaybookFactory(workspace=workspace, brand=brand)
    client = login(staff_member(Role.EDITOR))
    drilled = act(client, PLAYBOOKS, "drill_action", playbook, apply="1")
    said = messages_of(drilled)
    assert "1 post(s) would be held" in " ".join(said)
    # Each failed check is a sentence saying what to fix, not a code.
    assert "To fix before a real crisis: No holding statement is prepared" in " ".join(said)
    refused = act(client, PLAYBOOKS, "activate_action", playbook, apply="1")
    assert "needs the approver role" in " ".join(messages_of(refused))
    assert statuses(post) == [P.PENDING]
    assert list(Activation.objects.values_list("is_drill", flat=True)) == [True]
