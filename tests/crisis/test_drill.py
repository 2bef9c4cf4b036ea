"""Drills: the real activation, rolled back; a report, and nothing else changed."""

from __future__ import annotations

import pytest
from django.core import mail
from django.forms.models import model_to_dict

from calendar_app.crisis.models import Activation, HeldPublication
from calendar_app.crisis.services import CrisisError, activate, drill
from calendar_app.models import (
    ContentItem,
    Fire,
    Publication,
    Role,
    Transition,
    WebhookDelivery,
    WebhookEvent,
)
from calendar_app.models import PublicationStatus as P
from calendar_app.reactive import approve_template
from tests import factories as f
from tests.crisis.conftest import scheduled

pytestmark = pytest.mark.django_db


def database_state() -> dict:
    models = (Publication, ContentItem, Fire, Transition, WebhookEvent, WebhookDelivery)
    state = {m.__name__: sorted(map(repr, map(model_to_dict, m.objects.all()))) for m in models}
    state["held"] = HeldPublication.objects.count()
    state["activations"] = Activation.objects.count()
    return state


@pytest.fixture
def prepared(workspace, brand, channel, actor):
    """A playbook with a holding statement to fire, one scheduled post, one being sent."""
    holding = f.ReactiveTemplateFactory(
        brand=brand, workspace=workspace, name="Hold", body="We are on it.", channels=[channel]
    )
    approve_template(holding, actor(Role.APPROVER))
    f.webhook_rows(workspace)
    waiting = scheduled(brand, channel)
    sending = scheduled(brand, channel, status=P.PUBLISHING)
    playbook = f.PlaybookFactory(
        workspace=workspace, brand=brand, holding_templates=[holding], fire_holding_statement=True
    )
    return playbook, holding, waiting, sending


def test_drill_reports_and_changes_nothing(
    prepared, actor, sandbox_dir, django_capture_on_commit_callbacks
):
    playbook, holding, waiting, sending = prepared
    before = database_state()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        record = drill(playbook, actor(Role.EDITOR), "Tuesday rehearsal")
    after = database_state()

    assert callbacks == []  # no webhook, no email, no delivery wake-up
    assert mail.outbox == []
    assert not list(sandbox_dir.glob("*.jsonl"))
    assert after.pop("activations") == before.pop("activations") + 1
    assert after == before
    assert record.is_drill and not record.is_active
    report = record.report
    assert report["would_hold"] == 1
    assert [row["publication"] for row in report["would_hold_sample"]] == [waiting.pk]
    assert report["not_recalled"] == [sending.pk]
    assert report["holding_statements"][0]["status"] == "fired"
    assert report["would_post"] == [
        {"template": holding.pk, "text": "We are on it.", "channels": [waiting.channel_id]}
    ]
    assert report["would_notify"] == ["comms@example.com"]
    assert "nothing_in_flight" in report["failed_checks"]
    assert report["activation_ms"] >= 0
    assert record.duration_ms == report["activation_ms"]


def test_drill_names_the_checks_that_fail(workspace, actor):
    playbook = f.PlaybookFactory(workspace=workspace, notify_emails=[], required_role=Role.ADMIN)
    record = drill(playbook, actor(Role.EDITOR))
    assert set(record.report["failed_checks"]) >= {
        "holding_statement",
        "notify",
        "required_role_held",
    }


def test_drill_of_an_unapproved_holding_statement_fails_its_check(prepared, actor):
    playbook, holding, _, _ = prepared
    holding.body = "Edited after approval"
    holding.save()
    record = drill(playbook, actor(Role.EDITOR))
    assert f"holding_statement:{holding.pk}" in record.report["failed_checks"]


def test_no_drill_during_a_real_crisis(prepared, actor):
    playbook, *_ = prepared
    activate(playbook, actor(Role.APPROVER))
    before = database_state()
    with pytest.raises(CrisisError) as info:
        drill(playbook, actor(Role.EDITOR))
    assert info.value.code == "crisis_active"
    assert database_state() == before


def test_viewers_cannot_drill(workspace, actor):
    with pytest.raises(CrisisError) as info:
        drill(f.PlaybookFactory(workspace=workspace), actor(Role.VIEWER))
    assert info.value.code == "permission_denied"


def test_an_offered_holding_statement_is_still_checked(prepared, actor):
    playbook, holding, _, _ = prepared
    playbook.fire_holding_statement = False
    playbook.save()
    record = drill(playbook, actor(Role.EDITOR))
    assert record.report["holding_statements"][0]["status"] == "offered"
    assert record.report["would_post"] == []
    holding.body = "Edited after approval"
    holding.save()
    record = drill(playbook, actor(Role.EDITOR))
    assert record.report["holding_statements"][0]["status"] == "refused"
    assert not Fire.objects.exists()
