"""The marketers' studio in the admin: the calendar as home, moving by drag (through the
workflow, in the brand's zone), the item page's buttons, the approval queue, and the page's cost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendar_app import workflow
from calendar_app.models import ContentStatus, PublicationStatus, Role
from tests import factories as f
from tests.admin.helpers import messages_of

CALENDAR = "admin:calendar_app_contentitem_calendar"


def move(client, item, day: str, at: str = "09:00"):
    return client.post(
        reverse("admin:calendar_app_contentitem_move", args=[item.pk]), {"date": day, "time": at}
    )


@pytest.fixture
def paris(workspace):
    return f.BrandFactory(workspace=workspace, name="Lumière", time_zone="Europe/Paris")


@pytest.fixture
def scheduled(paris, actor):
    channel = f.ChannelFactory(brand=paris)
    item = f.ContentItemFactory(
        brand=paris,
        channels=[channel],
        title="Spring launch",
        scheduled_at=timezone.now() + timedelta(days=200),
    )
    workflow.submit(item, actor(Role.EDITOR))
    workflow.approve(item, actor(Role.APPROVER))
    return workflow.schedule(item, actor(Role.EDITOR))


# --- home --------------------------------------------------------------------------------------


def test_the_admin_opens_on_the_calendar(paris, staff_member, login):
    client = login(staff_member(Role.VIEWER))
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"] == reverse(CALENDAR)
    page = client.get(response["Location"])
    html = page.content.decode()
    assert "Times in Europe/Paris" in html
    assert reverse("admin:app_list", args=["calendar_app"]) in html  # every model, one click
    assert "View site" not in html  # it led to a 404


# --- moving on the calendar --------------------------------------------------------------------


def test_drag_reschedules_a_scheduled_post_on_the_spring_dst_day(scheduled, staff_member, login):
    client = login(staff_member(Role.EDITOR))
    # 2027-03-28: Paris moves to CEST (UTC+2) at 02:00 local.
    response = move(client, scheduled, "2027-03-28", "09:00")
    assert response.status_code == 200, response.json()
    scheduled.refresh_from_db()
    assert scheduled.scheduled_at == datetime(2027, 3, 28, 7, 0, tzinfo=UTC)
    assert scheduled.status == ContentStatus.SCHEDULED
    publication = scheduled.publications.get()
    assert publication.due_at == scheduled.scheduled_at
    body = response.json()
    assert "2027-03-28 09:00 CEST" in body["message"] and "Still approved" in body["message"]
    assert scheduled.transitions.filter(action="reschedule").exists()


def test_a_time_that_does_not_exist_on_the_dst_day_is_a_field_message(
    scheduled, staff_member, login
):
    before = scheduled.scheduled_at
    response = move(login(staff_member(Role.EDITOR)), scheduled, "2027-03-28", "02:30")
    assert response.status_code == 400
    assert "does not exist in Europe/Paris" in response.json()["errors"]["time"][0]
    scheduled.refresh_from_db()
    assert scheduled.scheduled_at == before


def test_a_published_post_cannot_move(scheduled, staff_member, login):
    from calendar_app.models import ContentItem

    ContentItem.objects.filter(pk=scheduled.pk).update(status=ContentStatus.PUBLISHED)
    response = move(login(staff_member(Role.EDITOR)), scheduled, "2031-01-01")
    assert response.status_code == 409
    assert "cannot move" in response.json()["message"]


def test_an_approved_post_moves_and_stays_approved(paris, actor, staff_member, login):
    item = f.ContentItemFactory(brand=paris, title="Approved one")
    workflow.submit(item, actor(Role.EDITOR))
    workflow.approve(item, actor(Role.APPROVER))
    response = move(login(staff_member(Role.EDITOR)), item, "2031-06-02", "18:15")
    assert response.status_code == 200
    item.refresh_from_db()
    assert item.status == ContentStatus.APPROVED
    assert item.scheduled_at == datetime(2031, 6, 2, 16, 15, tzinfo=UTC)
    assert "Still approved" in response.json()["message"]


def test_a_viewer_cannot_move_and_bad_input_is_a_4xx(scheduled, staff_member, login):
    assert move(login(staff_member(Role.VIEWER)), scheduled, "2031-01-01").status_code == 403
    client = login(staff_member(Role.EDITOR))
    bad_day = move(client, scheduled, "2031-02-30")
    assert bad_day.status_code == 400 and "date" in bad_day.json()["errors"]
    assert move(client, scheduled, "2031-01-01", "25:00").status_code == 400
    url = reverse("admin:calendar_app_contentitem_move", args=["nope"])
    assert client.post(url, {"date": "2031-01-01"}).status_code == 404
    assert (
        client.get(reverse("admin:calendar_app_contentitem_move", args=[scheduled.pk])).status_code
        == 405
    )


# --- the item page -----------------------------------------------------------------------------


def test_the_item_page_offers_only_the_steps_of_this_person(paris, actor, staff_member, login):
    item = f.ContentItemFactory(brand=paris, title="Buttons")
    workflow.submit(item, actor(Role.EDITOR))
    url = reverse("admin:calendar_app_contentitem_change", args=[item.pk])
    editor_page = login(staff_member(Role.EDITOR)).get(url).content.decode()
    assert 'id="kairos-do-withdraw"' in editor_page and 'id="kairos-do-approve"' not in editor_page
    approver = staff_member(Role.APPROVER)
    client = login(approver)
    assert 'id="kairos-do-approve"' in client.get(url).content.decode()
    response = client.post(
        reverse("admin:calendar_app_contentitem_workflow", args=[item.pk]),
        {"action": "approve"},
        follow=True,
    )
    item.refresh_from_db()
    assert item.status == ContentStatus.APPROVED
    assert any("now approved" in text for text in messages_of(response))


def test_a_refused_step_from_a_button_is_the_workflow_message(paris, actor, staff_member, login):
    item = f.ContentItemFactory(brand=paris, title="Needs a note")
    workflow.submit(item, actor(Role.EDITOR))
    client = login(staff_member(Role.APPROVER))
    response = client.post(
        reverse("admin:calendar_app_contentitem_workflow", args=[item.pk]),
        {"action": "reject", "note": ""},
        follow=True,
    )
    assert any("say what has to change" in text for text in messages_of(response))
    item.refresh_from_db()
    assert item.status == ContentStatus.IN_REVIEW


def test_the_item_page_shows_the_text_each_network_received_and_the_live_post(
    scheduled, staff_member, login
):
    publication = scheduled.publications.get()
    publication.status = PublicationStatus.PUBLISHED
    publication.published_at = timezone.now()
    publication.external_url = "https://social.example/@lumiere/42"
    publication.sent_text = "Spring <b>sale</b>\n\nShop now https://s.example/r/x?utm_source=x"
    publication.save()
    url = reverse("admin:calendar_app_contentitem_change", args=[scheduled.pk])
    html = login(staff_member(Role.VIEWER)).get(url).content.decode()
    assert 'href="https://social.example/@lumiere/42"' in html
    assert "text the network received" in html.lower()
    # Shown as text, line breaks kept: a network's answer is never HTML on our page.
    assert "Spring &lt;b&gt;sale&lt;/b&gt;\n\nShop now" in html and "<b>sale</b>" not in html


def test_publication_rows_name_the_brand_zone_of_their_times(scheduled, staff_member, login):
    publication = scheduled.publications.get()
    publication.due_at = datetime(2027, 7, 1, 7, 0, tzinfo=UTC)
    publication.published_at = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    publication.save()
    client = login(staff_member(Role.VIEWER))
    item_page = client.get(reverse("admin:calendar_app_contentitem_change", args=[scheduled.pk]))
    # Summer and winter on one page: each time carries its own abbreviation.
    assert "2027-07-01 09:00 CEST" in item_page.content.decode()
    assert "2027-01-15 09:00 CET" in item_page.content.decode()
    listing = client.get(reverse("admin:calendar_app_publication_changelist")).content.decode()
    assert "2027-07-01 09:00 CEST" in listing and "2027-01-15 09:00 CET" in listing


def test_times_are_typed_in_the_brand_zone_and_a_calendar_click_fills_the_form(
    paris, staff_member, login
):
    client = login(staff_member(Role.EDITOR))
    add = reverse("admin:calendar_app_contentitem_add")
    page = client.get(add, {"brand": paris.pk, "scheduled_at": "2027-10-31T09:00"})
    html = page.content.decode()
    assert "Wall-clock time in Europe/Paris" in html
    assert 'value="2027-10-31"' in html and 'value="09:00:00"' in html


# --- the approval queue ------------------------------------------------------------------------


def test_waiting_for_me_is_oldest_first_and_respects_separation_and_the_chain(
    workspace, paris, actor, staff_member, login
):
    me = staff_member(Role.APPROVER)
    colleague = staff_member(Role.APPROVER)
    mine = f.ContentItemFactory(brand=paris, title="Mine to decide", created_by=colleague)
    older = f.ContentItemFactory(brand=paris, title="Older one", created_by=colleague)
    written_by_me = f.ContentItemFactory(brand=paris, title="I wrote it", created_by=me)
    f.ApprovalPolicyFactory(brand=paris, workspace=workspace, separate_duties=True)
    chained = f.BrandFactory(workspace=workspace, name="Chained")
    f.ApprovalStepFactory(brand=chained, workspace=workspace, name="Legal", members=[colleague])
    f.ApprovalStepFactory(brand=chained, workspace=workspace, name="Brand", members=[me])
    not_yet = f.ContentItemFactory(brand=chained, title="Legal first", created_by=colleague)
    editor = actor(Role.EDITOR)
    for item in (older, mine, written_by_me, not_yet):
        workflow.submit(item, editor)
    # "older" waited longest: its submission is moved back in time.
    older.transitions.update(at=timezone.now() - timedelta(days=3))

    response = login(me).get(reverse("admin:calendar_app_contentitem_approval_queue"))
    titles = [row.item.title for row in response.context["rows"]]
    assert titles == ["Older one", "Mine to decide"]
    assert "3 d" in response.content.decode() or "72 h" in response.content.decode()

    legal = login(colleague).get(reverse("admin:calendar_app_contentitem_approval_queue"))
    rows = {row.item.title: row.step for row in legal.context["rows"]}
    assert rows["Legal first"] == "Legal" and "I wrote it" in rows


# --- cost --------------------------------------------------------------------------------------


def _queries(client, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse(CALENDAR), params)
        assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("view", ["month", "week", "list"])
def test_the_calendar_page_costs_the_same_queries_however_full_the_month(
    workspace, paris, staff_member, login, view
):
    other = f.BrandFactory(workspace=workspace, name="Other")
    start = datetime(2027, 5, 1, 8, 0, tzinfo=UTC)
    f.EventFactory(workspace=workspace, title="Fair", starts_at=start)
    client = login(staff_member(Role.VIEWER))
    for i in range(3):
        f.ContentItemFactory(brand=paris, scheduled_at=start + timedelta(hours=i))
    few = _queries(client, month="2027-05", view=view, date="2027-05-12")
    few_brand = _queries(client, month="2027-05", view=view, date="2027-05-12", brand=paris.pk)
    f.ContentItemFactory.create_batch(
        120, brand=other, scheduled_at=start + timedelta(days=10, hours=3)
    )
    f.EventFactory.create_batch(15, workspace=workspace, starts_at=start + timedelta(days=3))
    f.ContentItemFactory.create_batch(60, brand=paris, scheduled_at=start + timedelta(days=11))
    assert _queries(client, month="2027-05", view=view, date="2027-05-12") == few
    assert (
        _queries(client, month="2027-05", view=view, date="2027-05-12", brand=paris.pk) == few_brand
    )
    assert few <= 14


def test_a_full_day_lists_a_few_posts_and_links_to_the_rest(paris, staff_member, login):
    day = datetime(2027, 5, 12, 8, 0, tzinfo=UTC)
    f.ContentItemFactory.create_batch(9, brand=paris, scheduled_at=day)
    response = login(staff_member(Role.VIEWER)).get(
        reverse(CALENDAR), {"brand": paris.pk, "month": "2027-05"}
    )
    html = response.content.decode()
    assert "+ 5 more" in html
    assert "view=week&amp;date=2027-05-12" in html


def test_a_post_held_by_a_crisis_has_its_own_colour(scheduled, staff_member, login):
    scheduled.publications.update(status=PublicationStatus.HELD)
    when = scheduled.scheduled_at.astimezone(scheduled.brand.tz)
    response = login(staff_member(Role.VIEWER)).get(
        reverse(CALENDAR), {"brand": scheduled.brand_id, "date": when.date().isoformat()}
    )
    (item,) = [i for i in response.context["page"].items if i.pk == scheduled.pk]
    assert item.status == "held"
    assert 'class="k-item status-held"' in response.content.decode()  # a viewer: no drag


def test_an_editor_is_not_offered_firing_or_approving_templates(workspace, staff_member, login):
    page = login(staff_member(Role.EDITOR)).get(
        reverse("admin:calendar_app_reactivetemplate_changelist")
    )
    offered = {value for value, _ in page.context["action_form"].fields["action"].choices}
    assert "fire_template_action" not in offered and "approve_templates" not in offered
    approver_page = login(staff_member(Role.APPROVER)).get(
        reverse("admin:calendar_app_reactivetemplate_changelist")
    )
    offered = {value for value, _ in approver_page.context["action_form"].fields["action"].choices}
    assert "fire_template_action" in offered


def test_links_are_typed_one_per_line_and_a_bad_line_is_named(paris, staff_member, login):
    item = f.ContentItemFactory(brand=paris, title="Links", links=["https://example.com/a"])
    client = login(staff_member(Role.EDITOR))
    url = reverse("admin:calendar_app_contentitem_change", args=[item.pk])
    page = client.get(url)
    assert "\nhttps://example.com/a</textarea>" in page.content.decode()  # not a JSON box
    from tests.admin.helpers import form_data

    data = form_data(page, "contentitem_form")
    data["links"] = "https://example.com/a\n\n  https://example.com/b  \n"
    client.post(url, data)
    item.refresh_from_db()
    assert item.links == ["https://example.com/a", "https://example.com/b"]
    data["links"] = "https://example.com/a\njavascript:alert(1)"
    response = client.post(url, data)
    errors = response.context["adminform"].form.errors["links"]
    assert "Line 2 is not a web address" in errors[0]
    item.refresh_from_db()
    assert item.links == ["https://example.com/a", "https://example.com/b"]
