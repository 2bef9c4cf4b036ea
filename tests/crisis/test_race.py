"""Two activations of one playbook at the same moment: one wins, the other is refused (409
``already_active``), and every post is held exactly once. Needs real concurrent connections, so
it runs on PostgreSQL (SQLite serialises writers anyway)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from calendar_app.crisis.models import Activation, HeldPublication
from calendar_app.crisis.services import CrisisError, activate
from calendar_app.models import Role
from calendar_app.workflow import Actor
from tests import factories as f
from tests.crisis.conftest import many_scheduled

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs concurrent database connections"
    ),
]


def test_two_racing_activations_one_wins():
    workspace = f.WorkspaceFactory()
    brand = f.BrandFactory(workspace=workspace)
    channel = f.ChannelFactory(brand=brand, workspace=workspace)
    many_scheduled(brand, channel, 200)
    playbook = f.PlaybookFactory(workspace=workspace, brand=brand)
    user = f.MembershipFactory(workspace=workspace, role=Role.APPROVER).user
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def press() -> None:
        try:
            start.wait()
            activate(playbook, Actor.for_user(user, workspace), "race")
            outcomes.append("activated")
        except CrisisError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=press) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["activated", "already_active"]
    crisis = Activation.objects.get(playbook=playbook)
    assert crisis.held_count == 200
    assert HeldPublication.objects.filter(activation=crisis).count() == 200
