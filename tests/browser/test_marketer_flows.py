"""A marketer's day in the admin, in a real browser: log in, see the month, write a post on a
day, submit it, have it approved (and see self-approval refused), move it by dragging, fire a
reactive template from its form with the preview, and read an experiment's results."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from calendar_app import workflow
from calendar_app.models import ContentItem, ContentStatus, Role
from calendar_app.reactive import approve_template
from calendar_app.workflow import Actor
from tests import factories as f
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(transactional_db):
    workspace = f.WorkspaceFactory(name="North Star")
    brand = f.BrandFactory(
        workspace=workspace,
        name="Lumière",
        time_zone="Europe/Paris",
        profile={"themes": ["fashion", "beauty"], "values": [], "audience": []},
    )
    other = f.BrandFactory(workspace=workspace, name="Vantor Motors", time_zone="Europe/Paris")
    channel = f.ChannelFactory(brand=brand, handle="@lumiere")
    f.ChannelFactory(brand=other, handle="@vantor")
    editor = f.UserFactory(username="camille", is_staff=True)
    approver = f.UserFactory(username="sam", is_staff=True)
    f.MembershipFactory(workspace=workspace, user=editor, role=Role.EDITOR)
    f.MembershipFactory(workspace=workspace, user=approver, role=Role.APPROVER)
    f.ApprovalPolicyFactory(brand=brand, workspace=workspace, separate_duties=True)
    as_editor = Actor.for_user(editor, workspace)
    as_approver = Actor.for_user(approver, workspace)

    # This month: posts in every state across both brands, and a fashion week as a bar.
    now = timezone.now()
    local_today = now.astimezone(brand.tz).date()
    first = local_today.replace(day=1)
    plan = [
        ("Monday motivation", brand, 2, 9, "draft"),
        ("Behind the scenes", brand, 5, 12, "in_review"),
        ("Customer story", other, 8, 17, "approved"),
        ("New collection", brand, 12, 10, "approved"),
        ("Poll of the week", other, 15, 18, "draft"),
        ("Team spotlight", brand, 19, 9, "in_review"),
        ("Weekend teaser", other, 23, 11, "draft"),
    ]
    for title, owner, day, hour, state in plan:
        when = datetime(first.year, first.month, min(day, 28), hour, tzinfo=owner.tz)
        item = f.ContentItemFactory(
            brand=owner,
            title=title,
            scheduled_at=when,
            created_by=editor,
            channels=list(owner.channels.all()),
        )
        if state in {"in_review", "approved"}:
            workflow.submit(item, as_editor)
        if state == "approved":
            workflow.approve(item, as_approver)
    week_start = datetime(first.year, first.month, 9, tzinfo=UTC)
    f.EventFactory(
        workspace=workspace,
        title="Paris Fashion Week",
        themes=["fashion"],
        all_day=True,
        time_zone="Europe/Paris",
        starts_at=week_start - timedelta(hours=1),
        ends_at=week_start + timedelta(days=4, hours=-1),
    )
    template = f.ReactiveTemplateFactory(
        brand=brand,
        name="Front row reaction",
        body="Spotted on the front row: {{ moment }}. #PFW",
        channels=[channel],
    )
    approve_template(template, as_approver)
    return {
        "workspace": workspace,
        "brand": brand,
        "channel": channel,
        "editor": editor,
        "approver": approver,
        "as_editor": as_editor,
        "as_approver": as_approver,
        "template": template,
    }


def messages(page) -> str:
    return " ".join(page.locator("ul.messagelist li").all_inner_texts())


def test_log_in_and_see_the_month(world, open_page, shot):
    page = open_page()
    log_in(page, "camille")
    assert page.url.endswith("/admin/calendar_app/contentitem/calendar/")
    today = timezone.now().astimezone(world["brand"].tz)
    assert page.inner_text("#kairos-month") == today.strftime("%B %Y")
    assert "Times in Europe/Paris" in page.inner_text("#kairos-zone")
    assert page.locator(".k-day.today").count() == 1
    assert page.locator(".k-item").count() == 7  # every brand's posts, colour by status
    assert page.locator(".k-bar", has_text="Paris Fashion Week").count() >= 1
    shot(page, "month")
    page.click("#kairos-view-week")
    page.wait_for_load_state()
    assert page.locator(".k-hour").count() == 7 * 24
    shot(page, "week")
    page.click("#kairos-view-list")
    page.wait_for_load_state()
    assert page.locator("#kairos-list tbody tr").count() == 7
    shot(page, "list")


def test_create_an_item_on_a_day_submit_and_approve(world, open_page, shot):
    brand = world["brand"]
    page = open_page()
    log_in(page, "camille")
    page.goto(f"/admin/calendar_app/contentitem/calendar/?brand={brand.pk}&date=2031-03-01")
    page.click('.k-day[data-date="2031-03-18"] a.k-add')
    page.wait_for_load_state()
    assert page.input_value("#id_scheduled_at_0") == "2031-03-18"
    assert page.input_value("#id_scheduled_at_1") == "09:00:00"
    assert "Europe/Paris" in page.inner_text(".field-scheduled_at")
    page.fill("#id_title", "Spring drop")
    page.fill("#id_body", "The spring collection lands on Tuesday. Be the first to see it.")
    page.click(".field-channels .select2-selection")
    page.fill(".select2-search__field", "lumiere")
    page.click(".select2-results__option >> text=@lumiere")
    shot(page, "add-form")
    page.click("input[name=_continue]")
    page.wait_for_load_state()
    item = ContentItem.objects.get(title="Spring drop")
    assert item.scheduled_at == datetime(2031, 3, 18, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert page.locator("#kairos-do-approve").count() == 0  # an editor may not approve
    page.click("#kairos-do-submit")
    page.wait_for_load_state()
    assert "now in review" in messages(page)
    shot(page, "submitted")

    reviewer = open_page()
    log_in(reviewer, "sam")
    reviewer.goto("/admin/calendar_app/contentitem/waiting-for-me/")
    assert "Spring drop" in reviewer.inner_text("#kairos-queue")
    shot(reviewer, "queue")
    reviewer.click("#kairos-queue >> text=Spring drop")
    reviewer.wait_for_load_state()
    assert reviewer.locator(".field-preview").count() == 1  # each channel's preview
    reviewer.click("#kairos-do-approve")
    reviewer.wait_for_load_state()
    assert "now approved" in messages(reviewer)
    shot(reviewer, "approved")
    item.refresh_from_db()
    assert item.status == ContentStatus.APPROVED


def test_self_approval_is_refused_when_the_brand_separates_duties(world, open_page, shot):
    mine = f.ContentItemFactory(
        brand=world["brand"],
        title="Sam wrote this",
        created_by=world["approver"],
        channels=[world["channel"]],
    )
    workflow.submit(mine, world["as_approver"])
    page = open_page()
    log_in(page, "sam")
    page.goto(f"/admin/calendar_app/contentitem/{mine.pk}/change/")
    # The item page does not offer what would be refused: no "Approve" for its author...
    assert page.locator("#kairos-do-approve").count() == 0
    assert page.locator("#kairos-do-withdraw").count() == 1
    shot(page, "no-approve-button")
    # ...and the list's action (offered by role) is refused with the reason.
    page.goto("/admin/calendar_app/contentitem/?status__exact=in_review")
    page.check(f'input.action-select[value="{mine.pk}"]')
    page.select_option("select[name=action]", "approve_items")
    page.click("button[name=index]")
    page.wait_for_load_state()
    assert "separates duties" in messages(page), messages(page)
    shot(page, "refused")
    mine.refresh_from_db()
    assert mine.status == ContentStatus.IN_REVIEW


def test_reschedule_by_dragging_onto_the_dst_day(world, open_page, shot):
    brand = world["brand"]
    item = f.ContentItemFactory(
        brand=brand,
        title="Drag me",
        scheduled_at=datetime(2031, 3, 10, 8, 0, tzinfo=UTC),  # 09:00 CET
        created_by=world["editor"],
        channels=[world["channel"]],
    )
    workflow.submit(item, world["as_editor"])
    workflow.approve(item, world["as_approver"])
    workflow.schedule(item, world["as_editor"])
    page = open_page()
    log_in(page, "camille")
    page.goto(f"/admin/calendar_app/contentitem/calendar/?brand={brand.pk}&date=2031-03-10")
    source = page.locator(f'.k-item[data-id="{item.pk}"]')
    # 2031-03-30: Paris moves to summer time (CEST) that night.
    source.drag_to(page.locator('.k-day[data-date="2031-03-30"]'))
    page.wait_for_selector("#kairos-message:not([hidden])")
    page.wait_for_function("document.querySelector('#kairos-message').textContent !== 'Moving…'")
    text = page.inner_text("#kairos-message")
    assert "2031-03-30 09:00 CEST" in text and "Still approved" in text, text
    shot(page, "moved")
    item.refresh_from_db()
    assert item.scheduled_at == datetime(2031, 3, 30, 7, 0, tzinfo=UTC)
    assert item.status == ContentStatus.SCHEDULED
    page.wait_for_load_state()
    page.goto(f"/admin/calendar_app/contentitem/calendar/?brand={brand.pk}&date=2031-03-30")
    assert page.locator(f'.k-day[data-date="2031-03-30"] .k-item[data-id="{item.pk}"]').count() == 1


def test_fire_a_template_from_the_form_with_its_preview(world, open_page, shot):
    page = open_page()
    log_in(page, "sam")
    page.goto("/admin/calendar_app/reactivetemplate/")
    page.check(f'input.action-select[value="{world["template"].pk}"]')
    page.select_option("select[name=action]", "fire_template_action")
    page.click("button[name=index]")
    page.wait_for_load_state()
    assert "Moment" in page.inner_text("#content")  # the placeholder, as a person reads it
    page.fill("input[name=value_moment]", "a standing ovation for the finale")
    page.click("input[name=preview]")
    page.wait_for_load_state()
    assert "a standing ovation for the finale" in page.inner_text("body")
    shot(page, "preview")
    page.click("input[name=apply]")
    page.wait_for_load_state()
    assert re.search(r"fired .*going out now", messages(page)), messages(page)
    shot(page, "fired")


def test_open_the_experiment_results(world, open_page, shot):
    from calendar_app import experiments as services
    from tests.admin.test_experiment_results import _publish

    experiment = f.ExperimentFactory(brand=world["brand"], name="Front row CTA")
    f.VariantFactory(experiment=experiment, key="control", name="Shop now", is_control=True)
    f.VariantFactory(
        experiment=experiment,
        key="bold",
        name="Before midnight",
        cta_text="Grab yours before midnight",
        cta_url="https://example.com/midnight",
    )
    services.start_experiment(experiment, world["as_editor"], now=datetime(2027, 3, 1, tzinfo=UTC))
    _publish(experiment, {"control": 0.02, "bold": 0.03}, per_arm=6, impressions=4000)
    page = open_page()
    log_in(page, "sam")
    page.goto(f"/admin/calendar_app/experiment/{experiment.pk}/results/")
    assert "Front row CTA" in page.inner_text("body")
    assert page.locator("svg").count() >= 1  # the chart, drawn by the server
    shot(page, "results")
