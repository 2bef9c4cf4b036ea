"""Slots on the brand's page, content series and evergreen items in the admin: the API's
operations, through the same services, with refusals on the field."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from calendar_app.models import ContentItem, ContentSeries, ContentStatus, EvergreenItem, Role
from calendar_app.workflow import Actor
from tests import factories as f
from tests.admin.helpers import form_data, messages_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def paris(workspace):
    return f.BrandFactory(workspace=workspace, name="Lumière", time_zone="Europe/Paris")


def brand_page(client, brand):
    url = reverse("admin:calendar_app_brand_change", args=[brand.pk])
    page = client.get(url)
    assert page.status_code == 200
    return url, page, form_data(page, "brand_form")


# --- slots on the brand page -------------------------------------------------------------------


def test_the_brand_page_lists_its_slots_and_adds_one(paris, staff_member, login) -> None:
    f.PostingSlotFactory(brand=paris, weekday=0, local_time=time(9, 0))
    client = login(staff_member(Role.ADMIN))
    url, page, data = brand_page(client, paris)
    html = page.content.decode()
    assert "posting slots (times in the brand" in html.lower() and "In Europe/Paris." in html
    prefix = "posting_slots"
    assert data[f"{prefix}-TOTAL_FORMS"] == "1"
    data.update(
        {
            f"{prefix}-TOTAL_FORMS": "2",
            f"{prefix}-1-weekday": "4",
            f"{prefix}-1-local_time": "18:30",
            f"{prefix}-1-channel": "",
            f"{prefix}-1-label": "Friday evening",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.context["errors"]
    assert list(paris.posting_slots.values_list("weekday", "local_time", "label")) == [
        (0, time(9, 0), ""),
        (4, time(18, 30), "Friday evening"),
    ]


def test_moving_a_slot_on_the_brand_page_replans_and_says_where(
    workspace, paris, staff_member, login
) -> None:
    user = staff_member(Role.ADMIN)
    channel = f.ChannelFactory(brand=paris)
    slot = f.PostingSlotFactory(brand=paris, weekday=2, local_time=time(9, 0))
    item = f.approved_item(paris, Actor.for_user(user, workspace), channels=[channel])
    from calendar_app.slots import services

    services.add_to_queue(item, Actor.for_user(user, workspace))
    client = login(user)
    url, _, data = brand_page(client, paris)
    data["posting_slots-0-local_time"] = "16:00"
    response = client.post(url, data, follow=True)
    assert any("16:00" in m for m in messages_of(response)), messages_of(response)
    item.refresh_from_db()
    local = item.scheduled_at.astimezone(paris.tz)
    assert (local.weekday(), local.hour) == (2, 16)
    slot.refresh_from_db()
    assert slot.local_time == time(16, 0)


def test_a_slot_cannot_take_another_brands_channel(workspace, paris, staff_member, login) -> None:
    other = f.BrandFactory(workspace=workspace)
    foreign = f.ChannelFactory(brand=other)
    f.PostingSlotFactory(brand=paris)
    client = login(staff_member(Role.ADMIN))
    url, _, data = brand_page(client, paris)
    data["posting_slots-0-channel"] = str(foreign.pk)
    response = client.post(url, data)
    assert response.status_code == 200
    assert not paris.posting_slots.filter(channel=foreign).exists()


# --- content series ----------------------------------------------------------------------------


def test_a_series_is_planned_from_the_admin_and_stopped(
    workspace, paris, staff_member, login
) -> None:
    user = staff_member(Role.EDITOR)
    approver = Actor.for_user(staff_member(Role.APPROVER), workspace)
    source = f.approved_item(paris, approver, title="Monday tip")
    client = login(user)
    add = reverse("admin:calendar_app_contentseries_add")
    assert client.get(add).status_code == 200
    base = {"source": str(source.pk), "starts_at": "2030-01-07T09:00", "exdates": ""}
    endless = client.post(add, {**base, "rrule": "FREQ=WEEKLY"})
    assert endless.status_code == 200
    assert "COUNT or UNTIL" in str(endless.context["adminform"].form.errors["rrule"])
    gap = client.post(add, {**base, "rrule": "FREQ=DAILY;COUNT=2", "starts_at": "2030-03-31T02:30"})
    assert "does not exist in Europe/Paris" in str(gap.context["adminform"].form.errors)
    response = client.post(
        add, {**base, "rrule": "FREQ=WEEKLY;COUNT=3", "exdates": "2030-01-14T09:00"}, follow=True
    )
    assert any("2 occurrence(s) scheduled" in m for m in messages_of(response))
    series = ContentSeries.objects.get(source=source)
    assert series.starts_at == datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
    page = client.get(reverse("admin:calendar_app_contentseries_change", args=[series.pk]))
    assert "2030-01-21 09:00 CET" in page.content.decode()
    response = client.post(
        reverse("admin:calendar_app_contentseries_changelist"),
        {"action": "stop_series", "_selected_action": [series.pk]},
        follow=True,
    )
    assert any("2 occurrence(s) cancelled" in m for m in messages_of(response))
    items = ContentItem.objects.filter(occurrence_of__series=series)
    assert set(items.values_list("status", flat=True)) == {ContentStatus.CANCELLED}


def test_a_draft_cannot_repeat(workspace, paris, staff_member, login) -> None:
    draft = f.ContentItemFactory(brand=paris, title="Not yet")
    client = login(staff_member(Role.EDITOR))
    response = client.post(
        reverse("admin:calendar_app_contentseries_add"),
        {"source": str(draft.pk), "rrule": "FREQ=WEEKLY;COUNT=2", "starts_at": "2030-01-07T09:00"},
    )
    assert response.status_code == 200
    assert "Only an approved item can repeat" in str(response.context["adminform"].form.errors)
    assert not ContentSeries.objects.exists()


# --- evergreen items ---------------------------------------------------------------------------


def test_an_evergreen_item_is_added_and_refilled_now(workspace, paris, staff_member, login) -> None:
    user = staff_member(Role.EDITOR)
    approver = Actor.for_user(staff_member(Role.APPROVER), workspace)
    channel = f.ChannelFactory(brand=paris)
    for day in range(7):
        f.PostingSlotFactory(brand=paris, weekday=day, local_time=time(12, 0))
    story = f.approved_item(paris, approver, channels=[channel], title="Our story")
    draft = f.ContentItemFactory(brand=paris, title="Draft")
    client = login(user)
    add = reverse("admin:calendar_app_evergreenitem_add")
    refused = client.post(add, {"content_item": str(draft.pk), "min_gap": "30 00:00:00"})
    assert "Only approved content can be evergreen." in str(
        refused.context["adminform"].form.errors["content_item"]
    )
    short = client.post(add, {"content_item": str(story.pk), "min_gap": "00:10:00", "active": "on"})
    assert short.status_code == 200  # under an hour: refused by the check, on the page
    response = client.post(
        add, {"content_item": str(story.pk), "min_gap": "30 00:00:00", "active": "on"}
    )
    assert response.status_code == 302
    entry = EvergreenItem.objects.get()
    assert entry.workspace_id == workspace.pk
    response = client.post(
        reverse("admin:calendar_app_evergreenitem_changelist"),
        {"action": "refill_now", "_selected_action": [entry.pk]},
        follow=True,
    )
    assert any("repeat #" in m and "(Europe/Paris)" in m for m in messages_of(response))
    entry.refresh_from_db()
    assert entry.repeats == 1 and entry.last_planned_at > timezone.now()
    assert entry.last_planned_at < timezone.now() + timedelta(days=8)


def test_a_viewer_may_read_series_and_evergreen_pages_but_not_act(
    workspace, paris, staff_member, login
) -> None:
    client = login(staff_member(Role.VIEWER))
    assert client.get(reverse("admin:calendar_app_contentseries_changelist")).status_code == 200
    assert client.get(reverse("admin:calendar_app_evergreenitem_changelist")).status_code == 200
    assert client.get(reverse("admin:calendar_app_contentseries_add")).status_code == 403
