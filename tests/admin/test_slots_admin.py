"""Posting slots in the admin: "Add to queue" from the items list, and a removed slot says
where its queued items went."""

from __future__ import annotations

from django.urls import reverse

from calendar_app.models import ContentStatus, PostingSlot, Role
from calendar_app.workflow import Actor
from tests import factories as f


def test_add_to_queue_action_then_removing_the_slot_replans(workspace, brand, staff_member, login):
    editor = staff_member(Role.ADMIN)
    client = login(editor)
    channel = f.ChannelFactory(brand=brand)
    slot = f.PostingSlotFactory(brand=brand, weekday=2)
    spare = f.PostingSlotFactory(brand=brand, weekday=4)
    item = f.approved_item(brand, Actor.for_user(editor, workspace), channels=[channel])
    draft = f.ContentItemFactory(brand=brand, title="Still a draft")
    response = client.post(
        reverse("admin:calendar_app_contentitem_changelist"),
        {"action": "add_to_queue", "_selected_action": [item.pk, draft.pk]},
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    assert any("queued for Wednesday" in m for m in shown), shown
    assert any("Only approved items can be queued" in m for m in shown), shown
    item.refresh_from_db()
    assert item.status == ContentStatus.SCHEDULED
    response = client.post(
        reverse("admin:calendar_app_postingslot_delete", args=[slot.pk]),
        {"post": "yes"},
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    assert any("moved to Friday 09:00" in m for m in shown), shown
    assert not PostingSlot.objects.filter(pk=slot.pk).exists()
    item.refresh_from_db()
    assert item.queue_entry.slot == spare


def test_the_slot_form_names_the_brands_zone(workspace, brand, staff_member, login):
    client = login(staff_member(Role.EDITOR))
    slot = f.PostingSlotFactory(brand=brand)
    page = client.get(reverse("admin:calendar_app_postingslot_change", args=[slot.pk]))
    assert page.status_code == 200
    assert brand.time_zone in page.content.decode()
