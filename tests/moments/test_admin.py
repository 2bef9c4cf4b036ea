"""The war room in the admin: readiness, one-click firing with previews, the live JSON, tenancy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from calendar_app.models import Fire, Role
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def moment(brand, armed):
    now = timezone.now()
    return f.MomentFactory(
        brand=brand,
        templates=[armed(body="<b>{{ scorer }}</b> scores!", cooldown=timedelta(0))],
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=1),
    )


def war_room(moment) -> str:
    return reverse("admin:calendar_app_moment_war_room", args=[moment.pk])


def test_page_shows_readiness_armed_templates_and_the_poller(moment, staff_member, login):
    client = login(staff_member(Role.EDITOR))
    page = client.get(war_room(moment))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Run the readiness check now" in html
    assert "&lt;b&gt;" in html and "<b>{{" not in html  # the template's text is escaped
    assert 'name="value:scorer"' in html
    assert "Fire now" not in html  # an editor cannot fire
    assert "innerHTML" not in html
    ran = client.post(war_room(moment), {"do": "readiness"}, follow=True)
    assert "1 green, 0 red" in ran.content.decode()
    moment.refresh_from_db()
    assert moment.readiness_ok is True


def test_preview_then_fire(moment, staff_member, login, django_capture_on_commit_callbacks):
    client = login(staff_member(Role.APPROVER))
    template = moment.templates.get()
    preview = client.post(
        war_room(moment), {"preview": "Preview", "template": template.pk, "value:scorer": "Zidane"}
    )
    assert "Zidane" in preview.content.decode() and not Fire.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        fired = client.post(
            war_room(moment),
            {"fire": "Fire now", "template": template.pk, "value:scorer": "Zidane"},
            follow=True,
        )
    assert "it is going out now" in fired.content.decode()
    live = client.get(reverse("admin:calendar_app_moment_live", args=[moment.pk])).json()
    assert live["fires"][0]["values"] == {"scorer": "Zidane"}
    assert live["publications"][0]["status"] == "published"


def test_unarmed_template_is_refused_with_a_message(moment, brand, armed, staff_member, login):
    client = login(staff_member(Role.APPROVER))
    other = armed()
    page = client.post(
        war_room(moment),
        {"fire": "Fire now", "template": other.pk, "value:moment": "x"},
        follow=True,
    )
    assert "is not armed" in page.content.decode()
    assert not Fire.objects.exists()


def test_another_workspaces_moment_is_not_found(moment, other_workspace, staff_member, login):
    client = login(staff_member(Role.ADMIN, ws=other_workspace))
    assert client.get(war_room(moment)).status_code == 404
    assert client.post(war_room(moment), {"do": "readiness"}).status_code == 404
    live = reverse("admin:calendar_app_moment_live", args=[moment.pk])
    assert client.get(live).status_code == 404


def test_change_and_list_pages(moment, staff_member, login):
    client = login(staff_member(Role.EDITOR))
    listing = client.get(reverse("admin:calendar_app_moment_changelist"))
    assert listing.status_code == 200 and "Open the war room" in listing.content.decode()
    change = client.get(reverse("admin:calendar_app_moment_change", args=[moment.pk]))
    assert change.status_code == 200


def test_bad_input_is_a_message_or_a_400_never_a_500(moment, staff_member, login):
    client = login(staff_member(Role.APPROVER))
    page = client.post(war_room(moment), {"fire": "Fire now", "template": "abc"}, follow=True)
    assert page.status_code == 200 and "is not armed" in page.content.decode()
    live = reverse("admin:calendar_app_moment_live", args=[moment.pk])
    assert client.get(live, {"since": "2026-13-45T99:00:00"}).status_code == 400
    assert client.get(live, {"since": "yesterday"}).status_code == 400
    assert not Fire.objects.exists()
