"""A post a network would refuse is refused when a person submits, approves or schedules it,
with the channel and the field named - not discovered at the due second."""

from __future__ import annotations

import pytest

from calendar_app import workflow
from calendar_app.models import ContentStatus, Role
from calendar_app.workflow import WorkflowError
from tests import factories as f
from tests.delivery.conftest import channel

pytestmark = pytest.mark.django_db


def draft(brand, channels, **fields):
    return f.ContentItemFactory(brand=brand, workspace=brand.workspace, channels=channels, **fields)


def test_a_text_too_long_for_one_channel_is_refused_at_submit_naming_it(brand, actor) -> None:
    short = channel(brand)
    item = draft(brand, [short], body="x" * 5001)
    with pytest.raises(WorkflowError) as caught:
        workflow.submit(item, actor(Role.EDITOR))
    error = caught.value
    assert (error.code, error.field) == ("not_deliverable", "body")
    assert error.reason.startswith(f"On {short.handle} (sandbox): The text is 5001 characters")
    item.refresh_from_db()
    assert item.status == ContentStatus.DRAFT


def test_an_unknown_placeholder_is_refused_before_anyone_approves(brand, actor) -> None:
    item = draft(brand, [channel(brand)], body="Score: {{ score }}")
    with pytest.raises(WorkflowError, match="score"):
        workflow.submit(item, actor(Role.EDITOR))


def test_each_variant_s_call_to_action_is_checked(brand, actor) -> None:
    experiment = f.ExperimentFactory(brand=brand, workspace=brand.workspace)
    f.VariantFactory(experiment=experiment, key="control", is_control=True, cta_text="Go")
    f.VariantFactory(experiment=experiment, key="wordy", cta_text="y" * 150)
    # 4,800 characters fit with the control's call to action, not with the wordy one's.
    item = draft(brand, [channel(brand)], body="b" * 4800, experiment=experiment)
    with pytest.raises(WorkflowError) as caught:
        workflow.submit(item, actor(Role.EDITOR))
    assert "variant wordy" in caught.value.reason and "variant control" not in caught.value.reason


def test_a_channel_that_cannot_take_the_post_blocks_approval_and_scheduling(brand, actor) -> None:
    item = draft(brand, [channel(brand)], body="Fine for the sandbox")
    workflow.submit(item, actor(Role.EDITOR))
    hook = f.ChannelFactory(brand=brand, workspace=brand.workspace, network="webhook", settings={})
    item.channels.add(hook)
    with pytest.raises(WorkflowError) as caught:
        workflow.approve(item, actor(Role.APPROVER))
    assert caught.value.field == "channels"  # the channel needs its URL, not the text a fix
    assert "(webhook)" in caught.value.reason
