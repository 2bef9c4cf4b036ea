"""An approval covers everything that changes what goes out: the words, the channels, the
experiment and its variants' calls to action. Changing any of them on an approved or scheduled
item sends it back to review, through every door - the attack was an editor changing a variant's
link on an approved, scheduled item, which then went out unapproved."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from calendar_app import workflow
from calendar_app.delivery.dispatcher import dispatch_due
from calendar_app.models import ContentStatus, PublicationStatus, Role
from calendar_app.reactive import approve_template
from tests import factories as f
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def experiment(brand):
    experiment = f.ExperimentFactory(brand=brand, workspace=brand.workspace)
    f.VariantFactory(experiment=experiment, key="control", is_control=True, cta_text="Shop")
    f.VariantFactory(experiment=experiment, key="bold", cta_text="Grab one")
    return experiment


@pytest.fixture
def scheduled(brand, experiment, actor):
    channel = f.ChannelFactory(brand=brand, workspace=brand.workspace)
    item = f.ContentItemFactory(
        brand=brand, workspace=brand.workspace, channels=[channel], experiment=experiment
    )
    workflow.submit(item, actor(Role.EDITOR))
    workflow.approve(item, actor(Role.APPROVER))
    workflow.schedule(item, actor(Role.APPROVER), when=timezone.now() + timedelta(minutes=1))
    item.refresh_from_db()
    assert item.status == ContentStatus.SCHEDULED
    return item


def variant_url(experiment, variant=None) -> str:
    kwargs = {"workspace_slug": experiment.workspace.slug, "experiment_pk": experiment.pk}
    if variant is None:
        return reverse("api:variant-list", kwargs=kwargs)
    return reverse("api:variant-detail", kwargs={**kwargs, "pk": variant.pk})


def back_in_review(item) -> None:
    item.refresh_from_db()
    assert item.status == ContentStatus.IN_REVIEW
    assert not item.publications.filter(status=PublicationStatus.PENDING).exists()


def test_an_editor_changing_a_variant_s_link_sends_the_scheduled_item_back_to_review(
    scheduled, experiment, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("KAIROS_SANDBOX_DIR", str(tmp_path))
    editor = token_client(experiment.workspace, Role.EDITOR)
    bold = experiment.variants.get(key="bold")
    answer = editor.patch(
        variant_url(experiment, bold), {"cta_url": "https://evil.example/"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    back_in_review(scheduled)
    transition = scheduled.transitions.order_by("-pk").first()
    assert "“bold”" in transition.note and "call to action" in transition.note
    assert transition.via_token is not None  # the editor's token, not "system"
    # Its time comes: nothing goes out unapproved.
    scheduled.publications.update(due_at=timezone.now() - timedelta(seconds=1))
    assert dispatch_due() == 0


def test_adding_an_arm_sends_it_back_too(scheduled, experiment) -> None:
    editor = token_client(experiment.workspace, Role.EDITOR)
    answer = editor.post(
        variant_url(experiment),
        {"key": "calm", "name": "Calm", "cta_text": "Have a look"},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    back_in_review(scheduled)


def test_removing_an_arm_sends_an_approved_item_back(brand, experiment, actor) -> None:
    # (A scheduled item's publications name their variant: the database keeps it then.)
    item = f.ContentItemFactory(
        brand=brand,
        workspace=brand.workspace,
        channels=[f.ChannelFactory(brand=brand, workspace=brand.workspace)],
        experiment=experiment,
    )
    workflow.submit(item, actor(Role.EDITOR))
    workflow.approve(item, actor(Role.APPROVER))
    editor = token_client(experiment.workspace, Role.EDITOR)
    answer = editor.delete(variant_url(experiment, experiment.variants.get(key="bold")))
    assert answer.status_code == 204, answer.content
    back_in_review(item)


def test_a_variant_s_name_or_weight_is_not_what_goes_out(scheduled, experiment) -> None:
    editor = token_client(experiment.workspace, Role.EDITOR)
    bold = experiment.variants.get(key="bold")
    answer = editor.patch(
        variant_url(experiment, bold), {"name": "Bolder", "weight": 2}, format="json"
    )
    assert answer.status_code == 200, answer.content
    scheduled.refresh_from_db()
    assert scheduled.status == ContentStatus.SCHEDULED


def test_a_variant_cannot_change_while_its_posts_are_going_out(scheduled, experiment) -> None:
    scheduled.status = ContentStatus.PUBLISHING
    scheduled.save()
    editor = token_client(experiment.workspace, Role.EDITOR)
    bold = experiment.variants.get(key="bold")
    answer = editor.patch(
        variant_url(experiment, bold), {"cta_url": "https://evil.example/"}, format="json"
    )
    assert answer.status_code == 400
    assert "going out now" in str(answer.json())
    bold.refresh_from_db()
    assert bold.cta_url == "https://example.com/shop"


def test_adding_a_channel_or_changing_the_experiment_needs_a_new_approval(
    scheduled, brand, actor
) -> None:
    other = f.ChannelFactory(brand=brand, workspace=brand.workspace)
    workflow.edit(scheduled, actor(Role.EDITOR), {}, channels=[*scheduled.channels.all(), other])
    back_in_review(scheduled)

    workflow.approve(scheduled, actor(Role.APPROVER))
    new = f.ExperimentFactory(brand=brand, workspace=brand.workspace)
    workflow.edit(scheduled, actor(Role.EDITOR), {"experiment": new})
    scheduled.refresh_from_db()
    assert scheduled.status == ContentStatus.IN_REVIEW


def test_the_same_channels_again_change_nothing(scheduled, actor) -> None:
    workflow.edit(scheduled, actor(Role.EDITOR), {}, channels=list(scheduled.channels.all()))
    scheduled.refresh_from_db()
    assert scheduled.status == ContentStatus.SCHEDULED


def test_a_reactive_template_of_the_experiment_needs_a_new_approval(
    brand, experiment, actor
) -> None:
    template = f.ReactiveTemplateFactory(
        brand=brand, workspace=brand.workspace, experiment=experiment
    )
    template = approve_template(template, actor(Role.APPROVER))
    assert template.is_approved
    bold = experiment.variants.get(key="bold")
    bold.cta_url = "https://evil.example/"
    bold.save()
    template.refresh_from_db()
    assert not template.is_approved
