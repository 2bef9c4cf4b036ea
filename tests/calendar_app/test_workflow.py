"""Every transition of the content life cycle, allowed and forbidden."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from calendar_app import workflow
from calendar_app.models import ApprovalDecision, ContentStatus, PublicationStatus, Role
from calendar_app.workflow import RULES, Actor, WorkflowError
from tests import factories as f

S = ContentStatus
pytestmark = pytest.mark.django_db


@pytest.fixture
def item(brand):
    return f.ContentItemFactory(brand=brand, workspace=brand.workspace)


def bring_to(item, status: str, actor) -> None:
    """Walk an item through the workflow to ``status`` using the real transitions."""
    path = {
        S.DRAFT: [],
        S.IN_REVIEW: ["submit"],
        S.APPROVED: ["submit", "approve"],
        S.SCHEDULED: ["submit", "approve", "schedule"],
        S.CANCELLED: ["cancel"],
    }[status]
    for action in path:
        getattr(workflow, action)(item, actor(Role.ADMIN))
    item.refresh_from_db()


def run(action: str, item, actor: Actor):
    if action == "reject":
        return workflow.reject(item, actor, note="Tone it down.")
    if action == "reschedule":
        return workflow.reschedule(item, actor, timezone.now() + timedelta(days=3))
    return getattr(workflow, action)(item, actor)


HUMAN_ACTIONS = [name for name, rule in RULES.items() if rule.role is not None]
REACHABLE = [S.DRAFT, S.IN_REVIEW, S.APPROVED, S.SCHEDULED, S.CANCELLED]


@pytest.mark.parametrize("action", HUMAN_ACTIONS)
@pytest.mark.parametrize("status", REACHABLE)
def test_each_transition_from_each_state(action, status, item, actor) -> None:
    """The rule table decides: allowed sources move to the target, others raise and change nothing."""
    bring_to(item, status, actor)
    rule = RULES[action]
    transitions_before = item.transitions.count()
    if status in rule.sources:
        run(action, item, actor(Role.ADMIN))
        item.refresh_from_db()
        assert item.status == rule.target
        last = item.transitions.last()
        assert (last.action, last.from_status, last.to_status) == (action, status, rule.target)
    else:
        with pytest.raises(WorkflowError) as info:
            run(action, item, actor(Role.ADMIN))
        assert info.value.code == "invalid_transition"
        assert info.value.from_status == status
        assert "only possible from" in str(info.value)
        item.refresh_from_db()
        assert item.status == status
        assert item.transitions.count() == transitions_before


@pytest.mark.parametrize("action", HUMAN_ACTIONS)
def test_roles_below_the_rule_are_refused(action, item, actor) -> None:
    rule = RULES[action]
    source = sorted(rule.sources & set(REACHABLE))[0]
    bring_to(item, source, actor)
    weaker = [r for r in Role if Role.rank(r) < Role.rank(rule.role)]
    for role in weaker:
        with pytest.raises(WorkflowError) as info:
            run(action, item, actor(role))
        assert info.value.code == "permission_denied"
        assert rule.role in str(info.value)
    run(action, item, actor(rule.role))
    item.refresh_from_db()
    assert item.status == rule.target


def test_outsider_has_no_role(item, other_workspace) -> None:
    stranger = f.MembershipFactory(workspace=other_workspace, role=Role.ADMIN).user
    with pytest.raises(WorkflowError, match="no role in this workspace"):
        workflow.submit(item, Actor.for_user(stranger, item.workspace))


def test_approval_records_who_when_and_which_version(item, actor) -> None:
    workflow.submit(item, actor(Role.EDITOR))
    approver = actor(Role.APPROVER)
    workflow.approve(item, approver, note="Great line.")
    approval = item.approvals.get()
    assert approval.decision == ApprovalDecision.APPROVED
    assert approval.decided_by == approver.user
    assert approval.version == 1
    assert approval.content_hash == item.content_hash()
    assert workflow.current_approval(item) == approval


def test_reject_needs_a_note(item, actor) -> None:
    workflow.submit(item, actor(Role.EDITOR))
    with pytest.raises(WorkflowError) as info:
        workflow.reject(item, actor(Role.APPROVER), note="  ")
    assert info.value.field == "note"


def test_submit_refuses_empty_body(brand, actor) -> None:
    item = f.ContentItemFactory(brand=brand, workspace=brand.workspace, body="   ")
    with pytest.raises(WorkflowError, match="body is empty"):
        workflow.submit(item, actor(Role.EDITOR))


def test_editing_approved_content_sends_it_back_to_review(item, actor) -> None:
    bring_to(item, S.APPROVED, actor)
    workflow.edit(item, actor(Role.EDITOR), {"body": "New words."})
    item.refresh_from_db()
    assert item.status == S.IN_REVIEW
    assert item.version == 2
    assert workflow.current_approval(item) is None
    with pytest.raises(WorkflowError) as info:
        workflow.schedule(item, actor(Role.ADMIN))
    assert info.value.code == "invalid_transition"


def test_editing_scheduled_content_withdraws_its_publications(item, actor) -> None:
    bring_to(item, S.SCHEDULED, actor)
    assert item.publications.filter(status=PublicationStatus.PENDING).count() == 1
    workflow.edit(item, actor(Role.EDITOR), {"cta_text": "Buy two"})
    item.refresh_from_db()
    assert item.status == S.IN_REVIEW
    assert item.publications.filter(status=PublicationStatus.CANCELLED).count() == 1


def test_editing_only_the_title_keeps_the_approval(item, actor) -> None:
    bring_to(item, S.APPROVED, actor)
    workflow.edit(item, actor(Role.EDITOR), {"title": "Renamed"})
    item.refresh_from_db()
    assert item.status == S.APPROVED
    assert item.version == 1


def test_editing_while_publishing_is_refused(item, actor) -> None:
    bring_to(item, S.SCHEDULED, actor)
    workflow.start_publishing(item)
    with pytest.raises(WorkflowError) as info:
        workflow.edit(item, actor(Role.ADMIN), {"body": "Too late"})
    assert info.value.code == "locked"
    item.refresh_from_db()
    assert item.body != "Too late"


def test_schedule_creates_publications_at_utc_due_time(item, actor) -> None:
    bring_to(item, S.APPROVED, actor)
    local = datetime(2027, 3, 28, 9, 0)  # the Sunday clocks go forward in Paris
    workflow.schedule(item, actor(Role.EDITOR), when=local)
    publication = item.publications.get()
    assert publication.due_at == datetime.fromisoformat("2027-03-28T07:00:00+00:00")
    assert publication.status == PublicationStatus.PENDING


def test_schedule_refuses_a_local_time_that_does_not_exist(item, actor) -> None:
    from django.core.exceptions import ValidationError

    bring_to(item, S.APPROVED, actor)
    with pytest.raises(ValidationError, match="does not exist in Europe/Paris"):
        workflow.schedule(item, actor(Role.EDITOR), when=datetime(2027, 3, 28, 2, 30))
    item.refresh_from_db()
    assert item.status == S.APPROVED
    assert not item.publications.exists()


def test_reschedule_moves_pending_publications(item, actor) -> None:
    bring_to(item, S.SCHEDULED, actor)
    later = timezone.now() + timedelta(days=5)
    workflow.reschedule(item, actor(Role.EDITOR), later)
    assert item.publications.get().due_at == later


def test_cancel_cancels_pending_publications(item, actor) -> None:
    bring_to(item, S.SCHEDULED, actor)
    workflow.cancel(item, actor(Role.EDITOR), note="Moment passed")
    item.refresh_from_db()
    assert item.status == S.CANCELLED
    assert set(item.publications.values_list("status", flat=True)) == {PublicationStatus.CANCELLED}


def test_system_transitions_are_refused_to_people(item, actor) -> None:
    bring_to(item, S.SCHEDULED, actor)
    with pytest.raises(WorkflowError, match="only Kairos itself"):
        workflow.start_publishing(item, actor(Role.ADMIN))


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["published", "published"], S.PUBLISHED),
        (["published", "failed"], S.PARTLY_FAILED),
        (["failed", "unconfirmed"], S.FAILED),
        (["published", "publishing"], S.PUBLISHING),
        (["pending", "pending"], None),
        (["published", "cancelled"], S.PUBLISHED),
        (["cancelled"], None),
    ],
)
def test_item_status_follows_publications(statuses, expected) -> None:
    assert workflow.settled_status(statuses) == expected


def test_settle_moves_the_item_and_records_it(item, actor) -> None:
    bring_to(item, S.SCHEDULED, actor)
    item.publications.update(status=PublicationStatus.PUBLISHED, published_at=timezone.now())
    workflow.settle(item)
    item.refresh_from_db()
    assert item.status == S.PUBLISHED
    assert item.transitions.last().actor_label == "system"


def test_allowed_actions_match_role(item, actor) -> None:
    workflow.submit(item, actor(Role.EDITOR))
    item.refresh_from_db()
    assert set(workflow.allowed_actions(item, actor(Role.EDITOR))) == {"withdraw", "cancel"}
    assert set(workflow.allowed_actions(item, actor(Role.APPROVER))) == {
        "withdraw",
        "approve",
        "reject",
        "cancel",
    }
    assert workflow.allowed_actions(item, actor(Role.VIEWER)) == []


def test_allowed_actions_shared_cache_answers_each_item_as_alone(brand, actor) -> None:
    """A page shares one cache: the answer kept for one status is never another status's, and
    one item's "approve" taken out (its author, under separation of duties) stays with it."""
    f.ApprovalPolicyFactory(brand=brand, workspace=brand.workspace, separate_duties=True)
    approver = actor(Role.APPROVER)
    items = [f.ContentItemFactory(brand=brand, status=status) for status in ContentStatus.values]
    items += [f.ContentItemFactory(brand=brand, status=ContentStatus.IN_REVIEW) for _ in range(2)]
    items[-1].created_by = approver.user
    items[-1].save()
    for who in (actor(Role.EDITOR), actor(Role.VIEWER), Actor.system(), approver):
        cache: dict = {}
        shared = [workflow.allowed_actions(item, who, cache) for item in items]
        assert shared == [workflow.allowed_actions(item, who) for item in items]
    assert "approve" in shared[-2]
    assert "approve" not in shared[-1]
    assert len({tuple(actions) for actions in shared}) > 2


def test_token_actor_never_exceeds_its_member(workspace) -> None:
    from calendar_app.models import ApiToken

    membership = f.MembershipFactory(workspace=workspace, role=Role.EDITOR)
    token, _ = ApiToken.issue(workspace=workspace, name="ci", role=Role.ADMIN, user=membership.user)
    assert Actor.for_token(token).role == Role.EDITOR
    key, _ = ApiToken.issue(workspace=workspace, name="agency key", role=Role.APPROVER)
    assert Actor.for_token(key).role == Role.APPROVER
