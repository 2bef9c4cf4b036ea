"""Resuming (all or some, lateness policy applied), the guards while a crisis is active, the
holding statement fired through the real firing path, webhook events, and the automatic end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from calendar_app import workflow
from calendar_app.crisis.models import Activation, HeldOutcome, HeldPublication
from calendar_app.crisis.services import CrisisError, activate, end_due_activations, resume
from calendar_app.delivery import deliver_publication, held
from calendar_app.models import (
    ContentStatus,
    Fire,
    LatenessPolicy,
    Publication,
    Role,
    WebhookEvent,
)
from calendar_app.models import PublicationStatus as P
from calendar_app.reactive import FireRefused, approve_template, fire_template
from calendar_app.workflow import WorkflowError
from tests import factories as f
from tests.crisis.conftest import scheduled, statuses
from tests.delivery.conftest import sandbox_posts

pytestmark = pytest.mark.django_db


@pytest.fixture
def template(brand, channel, actor):
    made = f.ReactiveTemplateFactory(
        brand=brand, workspace=brand.workspace, body="Goal by {{ who }}!", channels=[channel]
    )
    return approve_template(made, actor(Role.APPROVER))


@pytest.fixture
def holding(brand, channel, actor):
    made = f.ReactiveTemplateFactory(
        brand=brand,
        workspace=brand.workspace,
        name="Holding statement",
        body="We know some of you cannot reach us. We are on it; next update within the hour.",
        channels=[channel],
    )
    return approve_template(made, actor(Role.APPROVER))


def test_resume_all_releases_and_the_posts_go_out(workspace, brand, channel, approver, sandbox_dir):
    soon = scheduled(brand, channel, due=timezone.now() - timedelta(seconds=1))
    later = scheduled(brand, channel)
    activation = activate(f.PlaybookFactory(workspace=workspace), approver)

    result = resume(activation, approver)

    assert result.ended and sorted(result.released) == sorted([soon.pk, later.pk])
    assert statuses(soon, later) == [P.PENDING, P.PENDING]
    assert Publication.objects.get(pk=soon.pk).last_error_code == held.RELEASED
    report = deliver_publication(soon.pk)
    assert report is not None and report.status == P.PUBLISHED
    assert len(sandbox_posts(sandbox_dir)) == 1
    activation.refresh_from_db()
    assert activation.ended_at is not None and activation.ended_by == approver.user
    assert set(
        HeldPublication.objects.filter(activation=activation).values_list("outcome", flat=True)
    ) == {HeldOutcome.RELEASED}


def test_a_post_whose_moment_passed_is_skipped_not_sent_late(
    workspace, brand, channel, approver, sandbox_dir
):
    passed = scheduled(
        brand,
        channel,
        due=timezone.now() - timedelta(hours=2),
        lateness_policy=LatenessPolicy.SKIP,
        lateness_tolerance=timedelta(minutes=15),
    )
    evergreen = scheduled(
        brand, channel, due=timezone.now() - timedelta(hours=2), lateness_policy="send_late"
    )
    activation = activate(f.PlaybookFactory(workspace=workspace), approver)

    result = resume(activation, approver)

    assert result.skipped == [passed.pk] and result.released == [evergreen.pk]
    assert statuses(passed, evergreen) == [P.SKIPPED, P.PENDING]
    assert Publication.objects.get(pk=passed.pk).last_error_code == "moment_passed"
    passed.content_item.refresh_from_db()
    assert passed.content_item.status == ContentStatus.FAILED  # its only post was skipped
    report = deliver_publication(evergreen.pk)
    assert report.status == P.PUBLISHED
    assert Publication.objects.get(pk=evergreen.pk).delivered_late
    assert (
        HeldPublication.objects.get(activation=activation, publication=passed).outcome
        == HeldOutcome.SKIPPED
    )


def test_resume_some_keeps_the_crisis_and_the_rest_held(workspace, brand, channel, approver):
    one, two = scheduled(brand, channel), scheduled(brand, channel)
    activation = activate(f.PlaybookFactory(workspace=workspace), approver)
    result = resume(activation, approver, [one.pk])
    assert not result.ended and result.released == [one.pk]
    assert statuses(one, two) == [P.PENDING, P.HELD]
    assert result.as_dict()["still_held"] == 1
    activation.refresh_from_db()
    assert activation.is_active


def test_resuming_what_is_not_held_is_refused_and_releases_nothing(
    workspace, brand, channel, approver
):
    held_one = scheduled(brand, channel)
    activation = activate(f.PlaybookFactory(workspace=workspace), approver)
    stranger = scheduled(brand, channel)
    with pytest.raises(CrisisError) as info:
        resume(activation, approver, [held_one.pk, stranger.pk])
    assert info.value.code == "not_held" and info.value.field == "publications"
    assert str(stranger.pk) in str(info.value)
    assert statuses(held_one) == [P.HELD]


def test_resuming_an_ended_crisis_is_refused(workspace, approver):
    activation = activate(f.PlaybookFactory(workspace=workspace), approver)
    resume(activation, approver)
    with pytest.raises(CrisisError) as info:
        resume(activation, approver)
    assert info.value.code == "not_active"


def test_firing_a_template_in_scope_is_refused_with_the_reason(
    workspace, brand, template, approver
):
    activate(f.PlaybookFactory(workspace=workspace, brand=brand, name="Blackout"), approver)
    with pytest.raises(FireRefused) as info:
        fire_template(template, approver, {"who": "Ada"})
    assert info.value.code == "crisis_active"
    assert "Blackout" in str(info.value)
    assert not Fire.objects.exists()


def test_a_template_out_of_scope_still_fires(workspace, brand, template, approver):
    other = f.BrandFactory(workspace=workspace)
    activate(f.PlaybookFactory(workspace=workspace, brand=other), approver)
    assert fire_template(template, approver, {"who": "Ada"}).pk


def test_holding_statement_needs_the_playbooks_role(workspace, brand, holding, actor, approver):
    playbook = f.PlaybookFactory(
        workspace=workspace, brand=brand, holding_templates=[holding], required_role=Role.ADMIN
    )
    activate(playbook, approver)
    with pytest.raises(FireRefused) as info:
        fire_template(holding, approver, {})
    assert info.value.code == "permission_denied"
    assert fire_template(holding, actor(Role.ADMIN), {}).pk


def test_holding_statement_fired_on_activation_goes_out_and_is_not_held(
    workspace, brand, channel, holding, approver, sandbox_dir, django_capture_on_commit_callbacks
):
    waiting = scheduled(brand, channel)
    playbook = f.PlaybookFactory(
        workspace=workspace, brand=brand, holding_templates=[holding], fire_holding_statement=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        activation = activate(playbook, approver, "Outage")
    [statement] = activation.holding_statements
    assert statement["status"] == "fired"
    fire = Fire.objects.get(pk=statement["fire"])
    assert fire.template == holding and fire.fired_by == approver.user
    assert set(fire.content_item.publications.values_list("status", flat=True)) == {P.PUBLISHED}
    posts = sandbox_posts(sandbox_dir)
    assert [p["post"]["body"] for p in posts] == [holding.body]
    assert statuses(waiting) == [P.HELD]


def test_an_unfireable_holding_statement_is_reported_and_the_hold_stands(
    workspace, brand, channel, holding, approver
):
    holding.body = "Changed after approval"
    holding.save()
    waiting = scheduled(brand, channel)
    playbook = f.PlaybookFactory(
        workspace=workspace, brand=brand, holding_templates=[holding], fire_holding_statement=True
    )
    activation = activate(playbook, approver)
    assert activation.holding_statements[0]["status"] == "refused"
    assert activation.holding_statements[0]["code"] == "not_approved"
    assert statuses(waiting) == [P.HELD]


def test_holding_statement_offered_when_not_fired(workspace, brand, holding, approver):
    playbook = f.PlaybookFactory(workspace=workspace, brand=brand, holding_templates=[holding])
    activation = activate(playbook, approver)
    assert activation.holding_statements[0]["status"] == "offered"
    assert not Fire.objects.exists()


def test_approving_in_scope_needs_the_stricter_role(workspace, brand, channel, actor, approver):
    item = f.ContentItemFactory(brand=brand, workspace=workspace, channels=[channel])
    workflow.submit(item, actor(Role.EDITOR))
    activate(f.PlaybookFactory(workspace=workspace, required_role=Role.ADMIN), approver)
    with pytest.raises(WorkflowError) as info:
        workflow.approve(item, approver)
    assert info.value.code == "permission_denied"
    item.refresh_from_db()
    assert item.status == ContentStatus.IN_REVIEW
    workflow.approve(item, actor(Role.ADMIN))


def test_webhook_events_and_notices(
    workspace, brand, channel, approver, django_capture_on_commit_callbacks
):
    f.webhook_rows(workspace)
    scheduled(brand, channel)
    member = f.MembershipFactory(workspace=workspace, role=Role.ADMIN).user
    playbook = f.PlaybookFactory(workspace=workspace, notify_emails=["press@example.com"])
    playbook.notify_users.set([member])
    with django_capture_on_commit_callbacks(execute=True):
        activation = activate(playbook, approver, "Data incident")
    activated = WebhookEvent.objects.get(type="crisis.activated")
    assert activated.payload["crisis"]["id"] == activation.pk
    assert activated.payload["crisis"]["held"] == 1
    assert activated.payload["crisis"]["reason"] == "Data incident"
    assert sorted(mail.outbox[0].to) == sorted(["press@example.com", member.email])
    with django_capture_on_commit_callbacks(execute=True):
        resume(activation, approver)
    resumed = WebhookEvent.objects.get(type="crisis.resumed")
    assert resumed.payload["released"] == 1 and resumed.payload["ended"] is True
    assert len(mail.outbox) == 2


def test_automatic_end_resumes(workspace, brand, channel, approver):
    waiting = scheduled(brand, channel)
    playbook = f.PlaybookFactory(workspace=workspace, auto_end_after=timedelta(minutes=30))
    activation = activate(playbook, approver)
    assert activation.ends_at == activation.started_at + timedelta(minutes=30)
    assert end_due_activations() == 0
    assert end_due_activations(now=timezone.now() + timedelta(minutes=31)) == 1
    assert statuses(waiting) == [P.PENDING]
    ended = Activation.objects.get(pk=activation.pk)
    assert ended.ended_at is not None and ended.ended_by_label == "automatic end"


def test_the_automatic_end_runs_every_minute():
    from django_q.models import Schedule

    from calendar_app.schedules import sync_schedules

    sync_schedules()
    schedule = Schedule.objects.get(name="kairos.crisis_auto_end")
    assert schedule.func == "calendar_app.crisis.services.end_due_activations"
    assert schedule.minutes == 1


def test_retrying_a_failed_post_into_a_crisis_is_refused(workspace, brand, channel, approver):
    from calendar_app.delivery import DeliveryActionError, retry_publication

    failed = scheduled(brand, channel, status=P.FAILED)
    activation = activate(f.PlaybookFactory(workspace=workspace, name="Outage"), approver)
    with pytest.raises(DeliveryActionError) as info:
        retry_publication(failed, approver)
    assert info.value.code == "crisis_active" and "Outage" in str(info.value)
    assert statuses(failed) == [P.FAILED]
    resume(activation, approver)
    assert retry_publication(failed, approver).status == P.PENDING
