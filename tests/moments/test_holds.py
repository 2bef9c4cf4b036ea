"""A moment holds the brand's lower-priority scheduled posts during its window and releases them
after: by the tick, on demand (API and admin), at once for a post scheduled into the window,
with the lateness policy on release, and never letting out what a crisis holds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from calendar_app import scheduling
from calendar_app.crisis import services as crisis
from calendar_app.crisis.models import HeldPublication
from calendar_app.delivery import held
from calendar_app.models import (
    LatenessPolicy,
    MomentHold,
    MomentHoldOutcome,
    Priority,
    Publication,
    PublicationStatus,
    Role,
)
from calendar_app.moments import holds, services
from calendar_app.workflow import Actor
from tests import factories as f
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db
P = PublicationStatus


@pytest.fixture
def window():
    now = timezone.now()
    return now - timedelta(minutes=5), now + timedelta(hours=1)


@pytest.fixture
def moment(brand, window):
    start, end = window
    return f.MomentFactory(brand=brand, starts_at=start, ends_at=end, hold_below="normal")


@pytest.fixture
def post(brand, channel):
    """``post(priority, due_at, **item_fields)``: a pending publication of ``brand``."""

    def make(priority: str, due_at, **fields) -> Publication:
        item = f.ContentItemFactory(
            brand=brand, workspace=brand.workspace, priority=priority, scheduled_at=due_at, **fields
        )
        return f.PublicationFactory(content_item=item, channel=channel, due_at=due_at)

    return make


def status(publication: Publication) -> tuple[str, str]:
    row = Publication.objects.get(pk=publication.pk)
    return row.status, row.claimed_by


def test_priorities_below_a_threshold():
    assert Priority.below("normal") == ["low"]
    assert Priority.below("high") == ["low", "normal"]
    assert Priority.below("") == [] and Priority.below("low") == []


def test_the_tick_holds_lower_priority_posts_in_the_window_and_releases_them_after(
    moment, post, window, brand, channel
):
    start, end = window
    inside = start + timedelta(minutes=20)
    low = post(Priority.LOW, inside)
    normal = post(Priority.NORMAL, inside)
    after = post(Priority.LOW, end + timedelta(minutes=10))
    other_brand = f.PublicationFactory(
        content_item=f.ContentItemFactory(workspace=brand.workspace, priority=Priority.LOW),
        due_at=inside,
    )

    assert services.tick()["held"] == 1
    assert status(low) == (P.HELD, moment.marker)
    assert status(normal) == (P.PENDING, "")
    assert status(after) == (P.PENDING, "")
    assert status(other_brand) == (P.PENDING, "")
    assert services.tick()["held"] == 0  # idempotent, every minute
    hold = MomentHold.objects.get(moment=moment)
    assert (hold.publication_id, hold.outcome) == (low.pk, MomentHoldOutcome.HELD)

    done = services.tick(now=end + timedelta(seconds=1))
    assert done["released"] == 1
    row = Publication.objects.get(pk=low.pk)
    assert (row.status, row.claimed_by, row.last_error_code) == (P.PENDING, "", held.RELEASED)
    hold.refresh_from_db()
    assert hold.outcome == MomentHoldOutcome.RELEASED
    assert hold.released_by_label == "moment window closed"
    moment.refresh_from_db()
    assert moment.released_at is not None
    assert services.tick(now=end + timedelta(minutes=2))["released"] == 0  # once


def test_a_high_threshold_holds_normal_posts_too_and_never_a_fired_reaction(
    brand, channel, window, post, armed, actor
):
    from calendar_app.reactive import fire_template

    start, end = window
    moment = f.MomentFactory(brand=brand, starts_at=start, ends_at=end, hold_below="high")
    normal = post(Priority.NORMAL, start + timedelta(minutes=30))
    high = post(Priority.HIGH, start + timedelta(minutes=30))
    fired = fire_template(armed(), actor(Role.APPROVER), {"moment": "a goal"})
    reaction = Publication.objects.get(content_item__fire=fired)
    assert holds.hold(moment) == 1
    assert status(normal)[0] == P.HELD
    assert status(high)[0] == P.PENDING
    assert status(reaction)[0] == P.PENDING  # the live conversation itself


def test_release_follows_the_lateness_policy(moment, post, window):
    start, end = window
    live = post(
        Priority.LOW,
        start + timedelta(minutes=10),
        lateness_policy=LatenessPolicy.SKIP,
        lateness_tolerance=timedelta(minutes=15),
    )
    evergreen = post(Priority.LOW, start + timedelta(minutes=10))
    holds.hold(moment)
    result = holds.release(moment, Actor.system("test"), now=end + timedelta(minutes=1))
    assert result.skipped == [live.pk] and result.released == [evergreen.pk]
    assert status(live)[0] == P.SKIPPED
    assert Publication.objects.get(pk=live.pk).last_error_code == "moment_passed"
    assert status(evergreen)[0] == P.PENDING
    outcomes = dict(MomentHold.objects.values_list("publication_id", "outcome"))
    assert outcomes == {
        live.pk: MomentHoldOutcome.SKIPPED,
        evergreen.pk: MomentHoldOutcome.RELEASED,
    }


def test_release_never_lets_out_what_a_crisis_holds(moment, post, window, brand, workspace):
    start, end = window
    publication = post(Priority.LOW, start + timedelta(minutes=30))
    holds.hold(moment)
    playbook = f.PlaybookFactory(workspace=workspace, brand=brand)
    activation = crisis.activate(playbook, Actor.system("incident"), "outage")
    # The crisis does not take a row the moment holds while the window is open ...
    assert status(publication) == (P.HELD, moment.marker)
    result = holds.release(moment, Actor.system("test"), now=end + timedelta(minutes=1))
    # ... and the moment hands it over at release instead of letting it out.
    assert result.to_crisis == [publication.pk] and result.released == []
    assert status(publication) == (P.HELD, activation.marker)
    assert HeldPublication.objects.filter(activation=activation, publication=publication).exists()
    assert MomentHold.objects.get(publication=publication).outcome == MomentHoldOutcome.CRISIS
    resumed = crisis.resume(activation, Actor.system("over"))
    assert resumed.released == [publication.pk]
    assert status(publication)[0] == P.PENDING


def test_a_post_scheduled_into_an_open_window_is_held_at_once(moment, brand, channel, window):
    start, _ = window
    item = f.ContentItemFactory(
        brand=brand,
        workspace=brand.workspace,
        priority=Priority.LOW,
        scheduled_at=start + timedelta(minutes=40),
        channels=[channel],
    )
    [publication] = scheduling.create_publications(item)
    assert status(publication) == (P.HELD, moment.marker)
    assert MomentHold.objects.filter(moment=moment, publication=publication).exists()


def test_a_cancelled_post_is_recorded_as_gone(moment, post, window):
    publication = post(Priority.LOW, window[0] + timedelta(minutes=30))
    holds.hold(moment)
    scheduling.cancel_publications(publication.content_item)
    holds.release(moment, Actor.system("test"))
    assert MomentHold.objects.get(publication=publication).outcome == MomentHoldOutcome.GONE


def test_refusals_change_nothing(brand, window, post):
    start, end = window
    moment = f.MomentFactory(brand=brand, starts_at=start, ends_at=end)
    with pytest.raises(holds.HoldError) as refused:
        holds.hold(moment, on_demand=True)
    assert refused.value.code == "no_threshold"
    later = f.MomentFactory(brand=brand, hold_below="normal")  # opens in two hours
    with pytest.raises(holds.HoldError) as refused:
        holds.hold(later, on_demand=True)
    assert refused.value.code == "outside_window"
    with pytest.raises(holds.HoldError) as refused:
        holds.release(later, Actor.system("test"))
    assert refused.value.code == "nothing_held"
    assert not MomentHold.objects.exists()


def url(name: str, workspace, **kwargs) -> str:
    return reverse(f"api:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs})


def test_api_hold_release_and_record(moment, post, window, workspace):
    publication = post(Priority.LOW, window[0] + timedelta(minutes=30))
    client = token_client(workspace, Role.EDITOR)
    response = client.post(url("moment-hold", workspace, pk=moment.pk))
    assert response.status_code == 200, response.content
    assert response.json()["held"] == 1
    listed = client.get(url("moment-holds", workspace, pk=moment.pk)).json()
    assert listed["hold_below"] == "normal"
    assert [(h["publication"], h["outcome"], h["priority"]) for h in listed["holds"]] == [
        (publication.pk, "held", "low")
    ]
    released = client.post(url("moment-release", workspace, pk=moment.pk))
    assert released.status_code == 200, released.content
    assert released.json()["released"] == 1
    again = client.post(url("moment-release", workspace, pk=moment.pk))
    assert again.status_code == 409 and again.json()["code"] == "already_released"
    refused = client.post(url("moment-hold", workspace, pk=moment.pk))
    assert refused.status_code == 409 and refused.json()["code"] == "already_released"
    shown = client.get(url("moment-detail", workspace, pk=moment.pk)).json()
    assert shown["released_at"] and shown["hold_below"] == "normal"


def test_api_threshold_is_a_choice(moment, workspace):
    client = token_client(workspace, Role.EDITOR)
    response = client.patch(
        url("moment-detail", workspace, pk=moment.pk), {"hold_below": "urgent"}, format="json"
    )
    assert response.status_code == 400
    assert "hold_below" in response.json()["fields"]


def test_content_priority_in_the_api_and_its_filter(brand, workspace):
    client = token_client(workspace, Role.EDITOR)
    low = f.ContentItemFactory(brand=brand, workspace=workspace, priority=Priority.LOW)
    f.ContentItemFactory(brand=brand, workspace=workspace)
    listed = client.get(url("content-item-list", workspace), {"priority": "low"}).json()
    assert [row["id"] for row in listed["results"]] == [low.pk]
    bad = client.patch(
        url("content-item-detail", workspace, pk=low.pk), {"priority": "urgent"}, format="json"
    )
    assert bad.status_code == 400 and "priority" in bad.json()["fields"]
    ok = client.patch(
        url("content-item-detail", workspace, pk=low.pk), {"priority": "high"}, format="json"
    )
    assert ok.status_code == 200, ok.content
    assert ok.json()["priority"] == "high" and ok.json()["version"] == 1  # no new approval


def test_admin_actions_hold_and_release(moment, post, window, login, staff_member):
    publication = post(Priority.LOW, window[0] + timedelta(minutes=30))
    client = login(staff_member(Role.EDITOR, ws=moment.workspace))
    changelist = reverse("admin:calendar_app_moment_changelist")
    response = client.post(
        changelist, {"action": "hold_now", "_selected_action": [moment.pk]}, follow=True
    )
    assert response.status_code == 200
    assert status(publication)[0] == P.HELD
    page = client.get(reverse("admin:calendar_app_moment_change", args=[moment.pk]))
    html = page.content.decode()
    assert f"#{publication.pk} “{publication.content_item.title}” (low)" in html
    client.post(changelist, {"action": "release_now", "_selected_action": [moment.pk]})
    assert status(publication)[0] == P.PENDING


def test_deleting_a_moment_that_holds_gives_its_posts_back(moment, post, window, workspace):
    publication = post(Priority.LOW, window[0] + timedelta(minutes=30))
    holds.hold(moment)
    client = token_client(workspace, Role.EDITOR)
    assert client.delete(url("moment-detail", workspace, pk=moment.pk)).status_code == 204
    assert status(publication) == (P.PENDING, "")
