"""Change forms: edits go through the workflow, bad input is a form error, secrets are write-only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from calendar_app import workflow
from calendar_app.models import Brand, Channel, ContentStatus, Event, PublicationStatus, Role
from tests import factories as f
from tests.admin.conftest import SECRET
from tests.admin.helpers import form_data, messages_of


def change_url(obj) -> str:
    return reverse(f"admin:calendar_app_{obj._meta.model_name}_change", args=[obj.pk])


def add_url(model) -> str:
    return reverse(f"admin:calendar_app_{model._meta.model_name}_add")


@pytest.fixture
def approved(brand, actor):
    item = f.ContentItemFactory(brand=brand, title="Halftime")
    workflow.submit(item, actor(Role.EDITOR))
    return workflow.approve(item, actor(Role.APPROVER))


def test_editing_approved_content_sends_it_back_to_review(approved, staff_member, login):
    client = login(staff_member(Role.EDITOR))
    data = form_data(client.get(change_url(approved)), "contentitem_form")
    data["body"] = "You can still snack in the dark."
    response = client.post(change_url(approved), data, follow=True)
    assert response.status_code == 200
    approved.refresh_from_db()
    assert approved.body == "You can still snack in the dark."
    assert approved.status == ContentStatus.IN_REVIEW
    assert approved.version == 2
    assert approved.transitions.last().action == "edit"
    assert any("back in review" in m for m in messages_of(response))


def test_editing_scheduled_content_withdraws_its_publications(approved, staff_member, login, actor):
    workflow.schedule(approved, actor(Role.EDITOR))
    client = login(staff_member(Role.EDITOR))
    data = form_data(client.get(change_url(approved)), "contentitem_form")
    data["cta_text"] = "Grab a bag"
    client.post(change_url(approved), data)
    approved.refresh_from_db()
    assert approved.status == ContentStatus.IN_REVIEW
    assert approved.publications.get().status == PublicationStatus.CANCELLED


def test_editing_only_the_title_keeps_the_approval(approved, staff_member, login):
    client = login(staff_member(Role.EDITOR))
    data = form_data(client.get(change_url(approved)), "contentitem_form")
    data["title"] = "Halftime (final)"
    client.post(change_url(approved), data)
    approved.refresh_from_db()
    assert (approved.title, approved.status, approved.version) == (
        "Halftime (final)",
        ContentStatus.APPROVED,
        1,
    )


def test_moving_a_scheduled_item_reschedules_it(approved, staff_member, login, actor):
    workflow.schedule(approved, actor(Role.EDITOR))
    client = login(staff_member(Role.EDITOR))
    data = form_data(client.get(change_url(approved)), "contentitem_form")
    data["scheduled_at_0"], data["scheduled_at_1"] = "2030-01-02", "10:00:00"
    client.post(change_url(approved), data)
    approved.refresh_from_db()
    assert approved.status == ContentStatus.SCHEDULED
    # Typed as the brand's wall-clock time, stored as the UTC instant.
    local = approved.scheduled_at.astimezone(approved.brand.tz)
    assert local.replace(tzinfo=None).isoformat() == "2030-01-02T10:00:00"
    assert approved.publications.get().due_at == approved.scheduled_at
    assert approved.transitions.last().action == "reschedule"


def test_status_and_version_are_read_only(approved, superuser, login):
    client = login(superuser)
    response = client.get(change_url(approved))
    fields = response.context["adminform"].form.fields
    assert "status" not in fields and "version" not in fields
    data = form_data(response, "contentitem_form")
    data["status"], data["version"] = "published", "9"
    client.post(change_url(approved), data)
    approved.refresh_from_db()
    assert (approved.status, approved.version) == (ContentStatus.APPROVED, 1)


def test_new_content_is_a_draft_of_the_brand_workspace(brand, staff_member, login):
    editor = staff_member(Role.EDITOR)
    channel = f.ChannelFactory(brand=brand)
    client = login(editor)
    data = form_data(client.get(add_url(type(f.ContentItemFactory.build()))), "contentitem_form")
    data.update({"brand": brand.pk, "title": "New", "body": "Hello", "channels": [channel.pk]})
    response = client.post(add_url(type(channel).content_items.rel.related_model), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    item = brand.content_items.get(title="New")
    assert (item.workspace, item.status, item.created_by) == (
        brand.workspace,
        ContentStatus.DRAFT,
        editor,
    )
    assert list(item.channels.all()) == [channel]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"themes": ", ".join(f"theme {n}" for n in range(60))}, "themes"),
        ({"avoid": "x" * 500}, "avoid"),
        ({"values": "craft\x00"}, "values"),
        ({"language": "English!"}, "language"),
        ({"slug": "Not A Slug"}, "slug"),
    ],
)
def test_bad_brand_input_is_a_form_error(brand, superuser, login, changes, field):
    client = login(superuser)
    data = form_data(client.get(change_url(brand)), "brand_form")
    data.update(changes)
    response = client.post(change_url(brand), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field]


def test_the_brand_fit_profile_is_typed_as_words_not_json(brand, superuser, login):
    brand.profile = {"themes": ["fashion"], "avoid": ["politics"]}
    brand.save()
    client = login(superuser)
    page = client.get(change_url(brand))
    assert '{"themes"' not in page.content.decode()
    data = form_data(page, "brand_form")
    assert data["themes"] == "fashion" and data["avoid"] == "politics"
    data.update(
        {"themes": "fashion, beauty\nsustainability, beauty", "values": "", "audience": "Paris"}
    )
    response = client.post(change_url(brand), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    brand.refresh_from_db()
    assert brand.profile == {
        "themes": ["fashion", "beauty", "sustainability"],
        "values": [],
        "audience": ["Paris"],
        "avoid": ["politics"],
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rrule": "FREQ=SOMETIMES"}, "rrule"),
        ({"rrule": "DTSTART:20270101T000000\nFREQ=YEARLY"}, "rrule"),
        # Security review, issue 14: unbounded rules and dates are form errors too.
        ({"rrule": "FREQ=DAILY;INTERVAL=0"}, "rrule"),
        ({"rrule": "FREQ=DAILY;BYHOUR=1,2,3,4,5;BYMINUTE=0,10,20,30,40,50"}, "rrule"),
        ({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "rrule"),
        ({"ends_at_0": "4027-02-15", "ends_at_1": "10:00:00"}, "ends_at"),
        ({"ends_at_0": "2027-02-13", "ends_at_1": "10:00:00"}, "ends_at"),
        ({"time_zone": "Europe/Pariss"}, "time_zone"),
        ({"themes": '"sport"'}, "themes"),
        ({"starts_at_0": "not a date"}, "starts_at"),
    ],
)
def test_bad_event_input_is_a_form_error(world, superuser, login, changes, field):
    event = world["event"]
    client = login(superuser)
    data = form_data(client.get(change_url(event)), "event_form")
    data.update(changes)
    response = client.post(change_url(event), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field]


def test_bad_content_input_is_a_form_error(approved, staff_member, login):
    client = login(staff_member(Role.EDITOR))
    data = form_data(client.get(change_url(approved)), "contentitem_form")
    data["links"] = '{"a": 1}'
    data["cta_url"] = "not a url"
    response = client.post(change_url(approved), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "links" in errors and "cta_url" in errors


def test_experiment_with_two_controls_is_a_form_error(world, superuser, login):
    experiment = world["experiment"]
    client = login(superuser)
    data = form_data(client.get(change_url(experiment)), "experiment_form")
    for key, value in list(data.items()):
        if key.endswith("-is_control") is False and key.endswith("-key") and value == "b":
            data[key.replace("-key", "-is_control")] = "on"
    response = client.post(change_url(experiment), data)
    assert response.status_code == 200
    assert "Only one variant can be the control." in response.content.decode()


def test_event_editor_cannot_write_the_shared_library(staff_member, login):
    client = login(staff_member(Role.EDITOR))
    data = form_data(client.get(add_url(Event)), "event_form")
    data.update(
        {
            "title": "Global?",
            "starts_at_0": "2027-01-01",
            "starts_at_1": "10:00:00",
            "ends_at_0": "2027-01-01",
            "ends_at_1": "11:00:00",
            "time_zone": "UTC",
            "workspace": "",
        }
    )
    response = client.post(add_url(Event), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["workspace"]


# --- secrets --------------------------------------------------------------------------------


def test_channel_secrets_can_be_replaced_kept_and_cleared_never_shown(world, superuser, login):
    channel = world["channel"]
    client = login(superuser)
    response = client.get(change_url(channel))
    html = response.content.decode()
    assert SECRET not in html
    assert "Leave blank to keep the current secrets" in html
    data = form_data(response, "channel_form")
    assert data["new_secrets"] == ""

    client.post(change_url(channel), {**data, "display_name": "Renamed"})
    channel.refresh_from_db()
    assert channel.secrets == {"token": SECRET} and channel.display_name == "Renamed"

    client.post(change_url(channel), {**data, "new_secrets": '{"token": "brand-new-42"}'})
    channel.refresh_from_db()
    assert channel.secrets == {"token": "brand-new-42"}
    assert "brand-new-42" not in client.get(change_url(channel)).content.decode()

    client.post(change_url(channel), {**data, "clear_secrets": "on"})
    channel.refresh_from_db()
    assert channel.secrets == {}
    assert (
        "not set" in client.get(reverse("admin:calendar_app_channel_changelist")).content.decode()
    )


@pytest.mark.parametrize("value", ["{oops", '["a"]', '{"n": 1}', "{}"])
def test_bad_secrets_are_a_form_error_and_not_echoed(world, superuser, login, value):
    channel = world["channel"]
    client = login(superuser)
    data = form_data(client.get(change_url(channel)), "channel_form")
    typed = value.replace("1", "typed-secret-777") if "1" in value else value
    response = client.post(change_url(channel), {**data, "new_secrets": typed})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["new_secrets"]
    assert "typed-secret-777" not in response.content.decode()
    channel.refresh_from_db()
    assert channel.secrets == {"token": SECRET}


def test_settings_and_secrets_outside_the_network_s_schema_are_form_errors(world, superuser, login):
    channel = world["channel"]  # sandbox
    client = login(superuser)
    data = form_data(client.get(change_url(channel)), "channel_form")
    response = client.post(
        change_url(channel),
        {
            **data,
            "settings": '{"audience": "everyone", "allow_private_addresses": true}',
            "new_secrets": '{"password": "typed-secret-888"}',
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "audience: Audience must be an integer." in errors["settings"]
    assert any("has no setting 'allow_private_addresses'" in e for e in errors["settings"])
    assert any("has no secret 'password'" in e for e in errors["new_secrets"])
    assert "typed-secret-888" not in response.content.decode()
    channel.refresh_from_db()
    assert (
        channel.secrets == {"token": SECRET} and "allow_private_addresses" not in channel.settings
    )


def test_secret_typed_next_to_another_error_is_not_echoed(world, superuser, login):
    channel = world["channel"]
    client = login(superuser)
    data = form_data(client.get(change_url(channel)), "channel_form")
    response = client.post(
        change_url(channel), {**data, "handle": "", "new_secrets": '{"token": "echo-me-not-555"}'}
    )
    assert response.status_code == 200
    assert "echo-me-not-555" not in response.content.decode()


def test_new_channel_from_the_admin_gets_the_brand_workspace(brand, staff_member, login):
    client = login(staff_member(Role.ADMIN))
    data = form_data(client.get(add_url(Channel)), "channel_form")
    data.update(
        {
            "brand": brand.pk,
            "network": "sandbox",
            "handle": "@new",
            "settings": "{}",
            "new_secrets": '{"token": "abc"}',
        }
    )
    response = client.post(add_url(Channel), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    channel = Channel.objects.get(handle="@new")
    assert channel.workspace == brand.workspace and channel.secrets == {"token": "abc"}


def test_brand_inline_channels_are_added_to_the_brand_workspace(brand, superuser, login):
    client = login(superuser)
    data = form_data(client.get(change_url(brand)), "brand_form")
    data.update(
        {
            "channels-TOTAL_FORMS": "1",
            "channels-0-network": "sandbox",
            "channels-0-handle": "@inline",
            "channels-0-status": "connected",
            "channels-0-brand": str(brand.pk),
        }
    )
    response = client.post(change_url(brand), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Brand.objects.get(pk=brand.pk).channels.get().workspace == brand.workspace


def test_a_refused_edit_is_a_message_and_nothing_is_saved(
    approved, staff_member, login, monkeypatch
):
    from calendar_app.admin import content as content_admin
    from calendar_app.workflow import WorkflowError

    def refuse(item, actor, changes, channels=None, note=""):
        raise WorkflowError(
            action="edit", item=item, code="locked", reason="it is already going out."
        )

    monkeypatch.setattr(content_admin.workflow, "edit", refuse)
    client = login(staff_member(Role.EDITOR))
    data = form_data(client.get(change_url(approved)), "contentitem_form")
    data["body"] = "Changed at the last second"
    response = client.post(change_url(approved), data)
    assert response.status_code == 302 and response.url == change_url(approved)
    followed = client.get(response.url)
    assert any("it is already going out" in m for m in messages_of(followed))
    approved.refresh_from_db()
    assert approved.body != "Changed at the last second"
    assert approved.status == ContentStatus.APPROVED


@pytest.mark.parametrize("model_name", ["apitoken", "conversionkey"])
def test_issued_secrets_are_shown_once_then_never(workspace, staff_member, login, model_name):
    from calendar_app.models import ApiToken, ConversionKey

    client = login(staff_member(Role.ADMIN))
    url = reverse(f"admin:calendar_app_{model_name}_add")
    data = form_data(client.get(url), f"{model_name}_form")
    data.update({"workspace": workspace.pk, "name": "shop server", "role": "editor"})
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    (shown,) = [m for m in messages_of(response) if "will not be shown again" in m]
    secret = shown.rsplit(" ", 1)[1]
    if model_name == "apitoken":
        token = ApiToken.objects.get(name="shop server")
        prefix, clear = secret.split(".", 1)
        assert prefix == token.prefix and token.matches(clear)
    else:
        key = ConversionKey.objects.get(name="shop server")
        clear = secret
        assert key.secret == clear
    page = client.get(reverse(f"admin:calendar_app_{model_name}_changelist")).content.decode()
    assert clear not in page
