"""Activating a playbook: exactly the waiting posts in scope are held, in one transaction, and
nothing that holds them lets a worker, the dispatcher, the sweep or /health/ see them as work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calendar_app.crisis.models import HeldOutcome, HeldPublication
from calendar_app.crisis.services import CrisisError, activate
from calendar_app.delivery import claims, dispatcher
from calendar_app.delivery.health import health_report
from calendar_app.models import ContentStatus, Publication, Role
from calendar_app.models import PublicationStatus as P
from calendar_app.workflow import Actor, settled_status
from tests import factories as f
from tests.crisis.conftest import many_scheduled, scheduled, statuses

pytestmark = pytest.mark.django_db


def test_brand_scope_holds_only_that_brands_waiting_posts(workspace, brand, channel, approver):
    other_brand = f.BrandFactory(workspace=workspace)
    other_channel = f.ChannelFactory(brand=other_brand, workspace=workspace)
    waiting = [scheduled(brand, channel) for _ in range(3)]
    sending = scheduled(brand, channel, status=P.PUBLISHING)
    done = scheduled(brand, channel, status=P.FAILED)
    elsewhere = scheduled(other_brand, other_channel)
    foreign_brand = f.BrandFactory()
    foreign = scheduled(foreign_brand, f.ChannelFactory(brand=foreign_brand))
    playbook = f.PlaybookFactory(workspace=workspace, brand=brand)

    activation = activate(playbook, approver, "Stadium blackout")

    assert activation.held_count == 3
    assert statuses(*waiting) == [P.HELD] * 3
    assert statuses(sending, done, elsewhere, foreign) == [
        P.PUBLISHING,
        P.FAILED,
        P.PENDING,
        P.PENDING,
    ]
    assert activation.not_recalled == [sending.pk]
    assert set(
        HeldPublication.objects.filter(activation=activation).values_list(
            "publication_id", "outcome"
        )
    ) == {(p.pk, HeldOutcome.HELD) for p in waiting}
    held = Publication.objects.get(pk=waiting[0].pk)
    assert held.claimed_by == activation.marker
    assert activation.activated_by == approver.user
    assert activation.reason == "Stadium blackout"
    assert activation.duration_ms is not None


def test_channel_scope(workspace, brand, channel, approver):
    other = f.ChannelFactory(brand=brand, workspace=workspace)
    on, off = scheduled(brand, channel), scheduled(brand, other)
    playbook = f.PlaybookFactory(workspace=workspace, channels=[channel])
    activate(playbook, approver)
    assert statuses(on, off) == [P.HELD, P.PENDING]


def test_tag_scope_matches_the_events_theme_without_case(workspace, brand, channel, approver):
    recall = f.EventFactory(workspace=workspace, themes=["Recall-X200", "cars"])
    other = f.EventFactory(workspace=workspace, themes=["cars"])
    tagged, untagged, no_event = (
        scheduled(brand, channel, event=recall),
        scheduled(brand, channel, event=other),
        scheduled(brand, channel),
    )
    playbook = f.PlaybookFactory(workspace=workspace, tag="recall-x200")
    activate(playbook, approver)
    assert statuses(tagged, untagged, no_event) == [P.HELD, P.PENDING, P.PENDING]


def test_workspace_scope_never_reaches_another_workspace(workspace, brand, channel, approver):
    own = scheduled(brand, channel)
    theirs_brand = f.BrandFactory()
    theirs = scheduled(theirs_brand, f.ChannelFactory(brand=theirs_brand))
    activate(f.PlaybookFactory(workspace=workspace), approver)
    assert statuses(own, theirs) == [P.HELD, P.PENDING]


def test_held_keeps_approvals_due_time_and_attempts(workspace, brand, channel, approver):
    publication = scheduled(brand, channel)
    before = Publication.objects.get(pk=publication.pk)
    activate(f.PlaybookFactory(workspace=workspace), approver)
    after = Publication.objects.get(pk=publication.pk)
    assert (after.due_at, after.next_attempt_at, after.attempts, after.idempotency_key) == (
        before.due_at,
        before.next_attempt_at,
        before.attempts,
        before.idempotency_key,
    )
    assert after.content_item.status == ContentStatus.SCHEDULED


def test_no_worker_dispatcher_or_health_check_sees_a_held_publication(
    workspace, brand, channel, approver
):
    overdue = scheduled(brand, channel, due=timezone.now() - timedelta(minutes=10))
    activate(f.PlaybookFactory(workspace=workspace), approver)

    assert claims.claim_ids("worker-1", [overdue.pk]) == []
    assert claims.claim_due("worker-1", limit=10) == []
    assert dispatcher.due_count(timezone.now(), 100) == 0
    _, body = health_report()
    assert body["oldest_overdue_seconds"] == 0.0
    assert body["held_in_crisis"] == 1
    assert statuses(overdue) == [P.HELD]


def test_an_item_with_held_posts_is_neither_finished_nor_under_way():
    assert settled_status([P.HELD, P.HELD]) is None
    assert settled_status([P.HELD, P.PENDING]) is None
    assert settled_status([P.HELD, P.PUBLISHED]) == ContentStatus.PUBLISHING


def test_activating_twice_is_refused_and_changes_nothing(workspace, brand, channel, approver):
    playbook = f.PlaybookFactory(workspace=workspace)
    first = activate(playbook, approver)
    late = scheduled(brand, channel)
    with pytest.raises(CrisisError) as info:
        activate(playbook, approver, "again")
    assert info.value.code == "already_active"
    assert statuses(late) == [P.PENDING]
    assert playbook.activations.count() == 1
    assert first.held_count == 0


def test_an_overlapping_playbook_is_refused_but_another_brand_may_have_its_own(
    workspace, brand, channel, approver
):
    activate(f.PlaybookFactory(workspace=workspace, brand=brand), approver)
    with pytest.raises(CrisisError) as info:
        activate(f.PlaybookFactory(workspace=workspace), approver)
    assert info.value.code == "crisis_active"
    other = f.BrandFactory(workspace=workspace)
    activate(f.PlaybookFactory(workspace=workspace, brand=other), approver)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_only_approvers_activate(workspace, actor, role):
    with pytest.raises(CrisisError) as info:
        activate(f.PlaybookFactory(workspace=workspace), actor(role))
    assert info.value.code == "permission_denied"


def test_posts_scheduled_during_the_crisis_are_held_at_once(workspace, brand, channel, approver):
    from calendar_app.scheduling import create_publications

    activation = activate(f.PlaybookFactory(workspace=workspace, brand=brand), approver)
    item = f.ContentItemFactory(brand=brand, workspace=workspace, channels=[channel])
    created = create_publications(item)
    assert [p.status for p in created] == [P.HELD]
    assert statuses(*created) == [P.HELD]
    assert HeldPublication.objects.filter(activation=activation).count() == 1


def test_cancelling_an_item_cancels_its_held_posts(workspace, brand, channel, approver):
    from calendar_app.scheduling import cancel_publications

    publication = scheduled(brand, channel)
    activate(f.PlaybookFactory(workspace=workspace), approver)
    cancel_publications(publication.content_item)
    assert statuses(publication) == [P.CANCELLED]


def _activation_queries(workspace, brand, channel, approver, n):
    many_scheduled(brand, channel, n)
    playbook = f.PlaybookFactory(workspace=workspace, brand=brand, name=f"plan {n}")
    with CaptureQueriesContext(connection) as queries:
        activation = activate(playbook, approver, "load")
    assert activation.held_count == n
    assert HeldPublication.objects.filter(activation=activation).count() == n
    return len(queries)


def test_activation_runs_the_same_queries_for_10_and_1000_publications():
    counts = []
    for n in (10, 1000):
        workspace = f.WorkspaceFactory()
        brand = f.BrandFactory(workspace=workspace)
        channel = f.ChannelFactory(brand=brand, workspace=workspace)
        user = f.MembershipFactory(workspace=workspace, role=Role.APPROVER).user
        counts.append(
            _activation_queries(workspace, brand, channel, Actor.for_user(user, workspace), n)
        )
    assert counts[0] == counts[1]
