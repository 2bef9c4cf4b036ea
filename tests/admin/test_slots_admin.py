"""Posting slots in the admin: "Add to queue" from the items list, and a removed slot says
where its queued items went."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from calendar_app.models import ContentStatus, PostingSlot, Role
from calendar_app.workflow import Actor
from tests import factories as f


def test_add_to_queue_action_then_removing_the_slot_replans(workspace, brand, staff_member, login):
    editor = staff_member(Role.ADMIN)
    client = login(editor)
    channel = f.ChannelFactory(brand=brand)
    # Slots on the weekdays of tomorrow and of three days from now, in the brand's zone: the
    # first is always the next free one, whatever day and hour the test runs (a fixed
    # Wednesday lost to Friday on Wednesday afternoons).
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(brand.time_zone)).date()
    first, later = today + timedelta(days=1), today + timedelta(days=3)
    slot = f.PostingSlotFactory(brand=brand, weekday=first.weekday())
    spare = f.PostingSlotFactory(brand=brand, weekday=later.weekday())
    item = f.approved_item(brand, Actor.for_user(editor, workspace), channels=[channel])
    draft = f.ContentItemFactory(brand=brand, title="Still a draft")
    response = client.post(
        reverse("admin:calendar_app_contentitem_changelist"),
        {"action": "add_to_queue", "_selected_action": [item.pk, draft.pk]},
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    assert any(f"queued for {first:%A}" in m for m in shown), shown
    assert any("Only approved items can be queued" in m for m in shown), shown
    item.refresh_from_db()
    assert item.status == ContentStatus.SCHEDULED
    response = client.post(
        reverse("admin:calendar_app_postingslot_delete", args=[slot.pk]),
        {"post": "yes"},
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    assert any(f"moved to {later:%A} 09:00" in m for m in shown), shown
    assert not PostingSlot.objects.filter(pk=slot.pk).exists()
    item.refresh_from_db()
    assert item.queue_entry.slot == spare


def test_the_slot_form_names_the_brands_zone(workspace, brand, staff_member, login):
    client = login(staff_member(Role.EDITOR))
    slot = f.PostingSlotFactory(brand=brand)
    page = client.get(reverse("admin:calendar_app_postingslot_change", args=[slot.pk]))
    assert page.status_code == 200
    assert brand.time_zone in page.content.decode()
