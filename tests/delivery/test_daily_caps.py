"""A network's daily posting cap is enforced when a post is scheduled, not when it is due: the
time over the cap is refused with a field message that names the first time that fits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from calendar_app import workflow
from calendar_app.delivery.daily_caps import _fits, first_fitting_time
from calendar_app.models import Role
from calendar_app.workflow import WorkflowError
from tests import factories as f
from tests.api.conftest import client_for as api_client_for

pytestmark = pytest.mark.django_db
client_for = api_client_for


@pytest.fixture
def x_channel(brand, monkeypatch):
    monkeypatch.setenv("KAIROS_X_POSTS_PER_DAY", "2")
    return f.ChannelFactory(
        brand=brand,
        workspace=brand.workspace,
        network="x",
        handle="@brand",
        settings={"user_id": "1"},
        secrets={"access_token": "t"},
    )


def approved(brand, actor, channel, body="Post"):
    item = f.ContentItemFactory(
        brand=brand, workspace=brand.workspace, channels=[channel], body=body
    )
    admin = actor(Role.ADMIN)
    workflow.submit(item, admin)
    workflow.approve(item, admin)
    return item, admin


def test_the_post_over_the_cap_is_refused_at_scheduling_with_the_first_time_that_fits(
    brand, actor, x_channel
) -> None:
    start = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    for hours in (0, 5):
        item, admin = approved(brand, actor, x_channel, f"Post at +{hours}h")
        workflow.schedule(item, admin, when=start + timedelta(hours=hours))
    third, admin = approved(brand, actor, x_channel, "One too many")
    with pytest.raises(WorkflowError) as refused:
        workflow.schedule(third, admin, when=start + timedelta(hours=10))
    assert refused.value.code == "daily_cap_exceeded" and refused.value.field == "scheduled_at"
    fits = start + timedelta(hours=24)
    assert f"{fits:%Y-%m-%d %H:%M} UTC" in refused.value.reason
    assert "@brand can publish 2 posts in any 24 hours on X" in refused.value.reason
    assert not third.publications.exists(), "nothing half-made"
    workflow.schedule(third, admin, when=fits)  # shifted to the time offered: accepted
    assert third.publications.count() == 1


def test_the_api_answers_a_field_message(brand, actor, x_channel, client_for, workspace) -> None:
    start = timezone.now() + timedelta(days=3)
    for hours in (0, 1):
        item, admin = approved(brand, actor, x_channel, f"Post {hours}")
        workflow.schedule(item, admin, when=start + timedelta(hours=hours))
    item, _ = approved(brand, actor, x_channel, "Third")
    response = client_for(Role.ADMIN).post(
        reverse(
            "api:content-item-schedule", kwargs={"workspace_slug": workspace.slug, "pk": item.pk}
        ),
        {"scheduled_at": (start + timedelta(hours=2)).isoformat()},
        format="json",
    )
    assert response.status_code in (400, 409), response.content
    assert "scheduled_at" in response.json()["fields"]


def test_cancelled_posts_do_not_count_and_other_networks_have_no_cap(
    brand, actor, x_channel
) -> None:
    start = timezone.now() + timedelta(days=2)
    items = []
    for hours in (0, 1):
        item, admin = approved(brand, actor, x_channel, f"Post {hours}")
        items.append(workflow.schedule(item, admin, when=start + timedelta(hours=hours)))
    workflow.cancel(items[0], admin)
    third, admin = approved(brand, actor, x_channel, "Fits now")
    workflow.schedule(third, admin, when=start + timedelta(hours=2))
    sandbox = f.ChannelFactory(brand=brand, workspace=brand.workspace)
    for n in range(4):
        item, admin = approved(brand, actor, sandbox, f"Sandbox {n}")
        workflow.schedule(item, admin, when=start)


@settings(max_examples=60, deadline=None)
@given(
    hours=st.lists(st.integers(min_value=-60, max_value=60), max_size=12),
    due=st.integers(min_value=-30, max_value=30),
    cap=st.integers(min_value=1, max_value=4),
)
def test_the_first_fitting_time_fits_and_nothing_earlier_does(hours, due, cap) -> None:
    base = datetime(2026, 6, 1, tzinfo=UTC)
    others = [base + timedelta(hours=h) for h in hours]
    wanted = base + timedelta(hours=due)
    found = first_fitting_time(wanted, others, cap)
    assert found >= wanted
    assert _fits(found, [t for t in others if abs(t - found) < timedelta(hours=24)], cap)
    for step in range(int((found - wanted).total_seconds() // 3600)):
        earlier = wanted + timedelta(hours=step)
        if earlier < found:
            assert not _fits(earlier, others, cap) or earlier == found
