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


def test_add_an_approved_post_to_the_queue(world, open_page, shot):
    from datetime import time

    brand = world["brand"]
    for weekday in range(7):
        f.PostingSlotFactory(brand=brand, weekday=weekday, local_time=time(10, 0), label="Morning")
    item = ContentItem.objects.get(title="New collection")
    page = open_page()
    log_in(page, "camille")
    page.goto(f"/admin/calendar_app/brand/{brand.pk}/change/")
    assert page.locator("#posting_slots-group tbody tr.has_original").count() == 7
    shot(page, "brand-slots")
    page.goto("/admin/calendar_app/contentitem/?status__exact=approved")
    page.check(f'input.action-select[value="{item.pk}"]')
    page.select_option("select[name=action]", "add_to_queue")
    page.click("button[name=index]")
    page.wait_for_load_state()
    text = messages(page)
    assert "“New collection” queued for" in text and "10:00 (Europe/Paris)" in text, text
    shot(page, "queued")
    item.refresh_from_db()
    assert item.status == ContentStatus.SCHEDULED
    assert item.scheduled_at.astimezone(brand.tz).time() == time(10, 0)
    assert item.scheduled_at > timezone.now()


def test_import_a_csv_with_an_error_then_fixed(world, open_page, shot, tmp_path):
    brand = world["brand"]
    bad = tmp_path / "plan.csv"
    bad.write_text(
        "brand,title,body,channels,scheduled_at\n"
        f"{brand.slug},Spring teaser,Something new is coming.,@lumiere,2031-02-30 09:00\n"
        f"{brand.slug},Spring reveal,Here it is.,@lumiere,2031-03-02 09:00\n"
    )
    page = open_page()
    log_in(page, "camille")
    page.goto("/admin/calendar_app/contentitem/")
    page.click("text=Import")
    page.wait_for_load_state()
    page.set_input_files("#id_file", str(bad))
    page.click("button[name=check]")
    page.wait_for_load_state()
    problems = page.locator(".content-import tbody tr").all_inner_texts()
    assert len(problems) == 1 and problems[0].split()[:2] == ["2", "scheduled_at"], problems
    assert "nothing was imported" in messages(page)
    shot(page, "problems")
    assert not ContentItem.objects.filter(title__startswith="Spring t").exists()
    good = tmp_path / "plan-fixed.csv"
    good.write_text(bad.read_text().replace("2031-02-30", "2031-02-28"))
    page.set_input_files("#id_file", str(good))
    page.click("button[name=check]")
    page.wait_for_load_state()
    assert "No problems in 2 rows." in page.inner_text(".content-import")
    shot(page, "checked")
    page.set_input_files("#id_file", str(good))
    page.click("button[name=import]")
    page.wait_for_load_state()
    assert "Imported 2 items as drafts." in messages(page)
    shot(page, "imported")
    teaser = ContentItem.objects.get(title="Spring teaser")
    assert teaser.status == ContentStatus.DRAFT
    assert teaser.scheduled_at == datetime(2031, 2, 28, 8, 0, tzinfo=UTC)  # 09:00 CET


def test_upload_a_picture_with_its_preview(world, open_page, shot, tmp_path):
    from tests.factories import png_bytes

    item = ContentItem.objects.get(title="Monday motivation")
    picture = tmp_path / "front-row.png"
    picture.write_bytes(png_bytes(320, 200, "purple"))
    not_a_picture = tmp_path / "notes.png"
    not_a_picture.write_text("just words")
    page = open_page()
    log_in(page, "camille")
    page.goto(f"/admin/calendar_app/contentitem/{item.pk}/change/")
    page.set_input_files("#id_media_upload", str(not_a_picture))
    page.click("input[name=_continue]")
    page.wait_for_load_state()
    assert "notes.png: This file is not a picture" in page.inner_text(".field-media")
    shot(page, "refused")
    page.set_input_files("#id_media_upload", str(picture))
    page.wait_for_selector(".kairos-media-previews img")  # previewed before it is saved
    page.fill("input[name=media-upload_alt_text]", "The front row at the finale")
    shot(page, "chosen")
    page.click("input[name=_continue]")
    page.wait_for_load_state()
    thumb = page.locator(".kairos-media-thumb img")
    assert thumb.count() == 1
    page.wait_for_function(
        "document.querySelector('.kairos-media-thumb img').naturalWidth === 320"
    )  # served from the medium's own address
    assert page.input_value("input[name=media-0-alt_text]") == "The front row at the finale"
    shot(page, "saved")
    item.refresh_from_db()
    assert item.media[0]["alt_text"] == "The front row at the finale"


def test_the_item_page_shows_what_went_out(world, open_page, shot):
    from calendar_app.models import PublicationStatus

    item = f.ContentItemFactory(
        brand=world["brand"], title="Out already", channels=[world["channel"]]
    )
    f.PublicationFactory(
        content_item=item,
        channel=world["channel"],
        status=PublicationStatus.PUBLISHED,
        published_at=timezone.now(),
        external_url="https://social.example/@lumiere/42",
        sent_text="Spotted on the front row: a standing ovation. #PFW\n\n"
        "Shop the look https://example.com/r/abc?utm_source=sandbox",
    )
    page = open_page()
    log_in(page, "camille")
    page.goto(f"/admin/calendar_app/contentitem/{item.pk}/change/")
    sent = page.locator(".sent-text")
    assert "a standing ovation" in sent.inner_text()
    link = page.locator('a[href="https://social.example/@lumiere/42"]')
    assert link.get_attribute("target") == "_blank"
    shot(page, "what-went-out")
