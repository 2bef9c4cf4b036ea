"""The client's approval link: GET shows and never decides; POST decides once; an expired,
replayed, outdated or unknown link answers a clear page and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from calendar_app import workflow
from calendar_app.approvals.links import create_link
from calendar_app.approvals.models import ApprovalLink, StepVote
from calendar_app.models import Approval, ContentStatus, Role, Transition
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(actor):
    return actor(Role.EDITOR)


def page(token: str) -> str:
    return reverse("approval-link", kwargs={"token": token})


def status(item) -> str:
    item.refresh_from_db()
    return item.status


def test_get_shows_the_version_and_decides_nothing(in_review, editor, client):
    item = in_review(body="Exactly these words.")
    new = create_link(item, editor, "Dana Client", "dana@client.example")
    for _ in range(3):  # a mail scanner, a link preview, the person
        response = client.get(page(new.token))
        assert response.status_code == 200
    html = response.content.decode()
    assert "Exactly these words." in html
    assert "Dana Client" in html and "csrfmiddlewaretoken" in html
    assert response["Cache-Control"].startswith("max-age=0")
    assert status(item) == ContentStatus.IN_REVIEW
    assert not Approval.objects.exists()


def test_post_approves_once_naming_the_external_person(in_review, editor):
    item = in_review()
    new = create_link(item, editor, "Dana Client", "dana@client.example")
    client = Client(enforce_csrf_checks=True)
    form = client.get(page(new.token))
    csrf = form.cookies["csrftoken"].value
    no_csrf = client.post(page(new.token), {"decision": "approve"})
    assert no_csrf.status_code == 403
    assert status(item) == ContentStatus.IN_REVIEW
    done = client.post(
        page(new.token), {"decision": "approve", "csrfmiddlewaretoken": csrf, "note": "Go"}
    )
    assert done.status_code == 200, done.content
    assert status(item) == ContentStatus.APPROVED
    approval = Approval.objects.get(content_item=item)
    assert approval.decided_by is None
    assert approval.decided_by_label == "external: Dana Client <dana@client.example>"
    transition = Transition.objects.get(content_item=item, action="approve")
    assert transition.actor_label == approval.decided_by_label
    replay = client.post(page(new.token), {"decision": "approve", "csrfmiddlewaretoken": csrf})
    assert replay.status_code == 410
    assert "works once" in replay.content.decode()
    assert Approval.objects.filter(content_item=item).count() == 1


def test_reject_needs_a_note_and_sends_back_to_draft(in_review, editor, client):
    item = in_review()
    new = create_link(item, editor, "Dana", "dana@client.example")
    empty = client.post(page(new.token), {"decision": "reject"})
    assert empty.status_code == 400
    assert status(item) == ContentStatus.IN_REVIEW
    done = client.post(page(new.token), {"decision": "reject", "note": "Wrong logo."})
    assert done.status_code == 200
    assert status(item) == ContentStatus.DRAFT
    assert ApprovalLink.objects.get().decision == "reject"


def test_expired_link_is_gone_and_changes_nothing(in_review, editor, client):
    item = in_review()
    new = create_link(item, editor, "Dana", "dana@client.example")
    ApprovalLink.objects.filter(pk=new.link.pk).update(expires_at=timezone.now())
    assert client.get(page(new.token)).status_code == 410
    response = client.post(page(new.token), {"decision": "approve"})
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert status(item) == ContentStatus.IN_REVIEW
    assert ApprovalLink.objects.get().used_at is None


def test_a_link_to_an_edited_version_is_refused(in_review, editor, client):
    item = in_review()
    new = create_link(item, editor, "Dana", "dana@client.example")
    workflow.edit(item, editor, {"body": "Changed after the link was sent."})
    assert client.get(page(new.token)).status_code == 409
    response = client.post(page(new.token), {"decision": "approve"})
    assert response.status_code == 409
    assert "edited" in response.content.decode()
    assert status(item) == ContentStatus.IN_REVIEW
    assert not Approval.objects.exists()


def test_a_link_decides_its_step_only(brand, in_review, editor, approvers, client):
    (legal, legal_actor), (boss, _) = approvers(2)
    f.ApprovalStepFactory(brand=brand, order=1, name="Legal", members=[legal])
    f.ApprovalStepFactory(brand=brand, order=2, name="Client", members=[boss])
    item = in_review()
    early = create_link(item, editor, "Dana", "dana@client.example")  # made for "Legal"
    workflow.approve(item, legal_actor)
    assert client.post(page(early.token), {"decision": "approve"}).status_code == 409
    client_link = create_link(item, editor, "Dana", "dana@client.example")
    assert client_link.link.step.name == "Client"
    assert client.post(page(client_link.token), {"decision": "approve"}).status_code == 200
    assert status(item) == ContentStatus.APPROVED
    assert StepVote.objects.get(via_link=client_link.link).decided_by_label.startswith("external")


def test_a_link_ignores_separation_of_duties_but_not_a_crisis(brand, in_review, editor, client):
    """The client wrote nothing; a crisis over the post needs a member with the playbook role."""
    from calendar_app.crisis.services import activate

    f.ApprovalPolicyFactory(brand=brand)
    item = in_review(created_by=editor.user)
    new = create_link(item, editor, "Dana", "dana@client.example")
    admin = f.MembershipFactory(workspace=brand.workspace, role=Role.ADMIN).user
    activate(
        f.PlaybookFactory(workspace=brand.workspace, brand=brand),
        workflow.Actor.for_user(admin, brand.workspace),
        "recall",
    )
    response = client.post(page(new.token), {"decision": "approve"})
    assert response.status_code == 409
    assert status(item) == ContentStatus.IN_REVIEW
    assert ApprovalLink.objects.get().used_at is None


def test_unknown_tokens_answer_404(client, db):
    assert client.get(page("x" * 43)).status_code == 404
    assert client.post(page("short"), {"decision": "approve"}).status_code == 404


@settings(max_examples=30, deadline=None)
@given(token=st.text(min_size=1, max_size=80).filter(lambda t: not set(t) & set("/?#%\\")))
def test_any_token_answers_without_a_500(token):
    from urllib.parse import quote

    response = Client().post(f"/approve/{quote(token)}/", {"decision": "approve"})
    assert response.status_code in (301, 400, 404), response.status_code


def test_a_short_or_long_life_is_refused(in_review, editor):
    item = in_review()
    with pytest.raises(workflow.WorkflowError):
        create_link(item, editor, "Dana", "d@x.example", ttl=timedelta(days=31))
    assert not ApprovalLink.objects.exists()
