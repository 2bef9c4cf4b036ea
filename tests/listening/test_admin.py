"""The inbox in the admin: filters, a correction, a reply draft, the banner, and tenancy."""

from __future__ import annotations

import pytest
from django.urls import reverse

from calendar_app.models import ContentItem, Message, Role
from tests.listening.test_api import build


@pytest.fixture(autouse=True)
def _admin_urls(settings):
    settings.ROOT_URLCONF = "tests.admin.urls"


def test_inbox_banner_correction_and_reply(workspace, staff_member, login):
    world = build(workspace)
    message = world["listening-message"]
    client = login(staff_member(Role.EDITOR))
    inbox = client.get(reverse("admin:calendar_app_message_changelist"), {"answered": "no"})
    assert inbox.status_code == 200
    html = inbox.content.decode()
    assert "Love acme!" in html
    assert 'id="listening-alerts"' in html, "the open alert shows as a banner"
    for params in ({"tone__exact": "negative"}, {"kind__exact": "reply"}, {"q": "acme"}):
        assert (
            client.get(reverse("admin:calendar_app_message_changelist"), params).status_code == 200
        )
    change = reverse("admin:calendar_app_message_change", args=[message.pk])
    response = client.post(change, {"category": "complaint", "tone": "negative"})
    assert response.status_code == 302, response.content[:2000]
    message.refresh_from_db()
    assert (message.category, message.corrected_at is not None) == ("complaint", True)
    reply = reverse("admin:calendar_app_message_reply", args=[message.pk])
    assert client.get(reply).status_code == 200
    response = client.post(reply, {"body": "So sorry, we are on it."})
    assert response.status_code == 302
    assert ContentItem.objects.get(in_reply_to=message).status == "draft"


def test_viewer_cannot_correct_and_outsider_sees_nothing(
    workspace, other_workspace, staff_member, login
):
    message = build(workspace)["listening-message"]
    build(other_workspace)
    viewer = login(staff_member(Role.VIEWER))
    change = reverse("admin:calendar_app_message_change", args=[message.pk])
    viewer.post(change, {"category": "complaint", "tone": "negative"})
    message.refresh_from_db()
    assert message.corrected_at is None
    viewer.post(reverse("admin:calendar_app_message_reply", args=[message.pk]), {"body": "hi"})
    assert not ContentItem.objects.filter(in_reply_to=message).exists()
    outsider = login(staff_member(Role.ADMIN, ws=other_workspace))
    assert outsider.get(change).status_code in (302, 404)
    assert (
        outsider.get(reverse("admin:calendar_app_message_reply", args=[message.pk])).status_code
        == 404
    )
    page = outsider.get(reverse("admin:calendar_app_message_changelist")).content.decode()
    assert Message.objects.filter(workspace=other_workspace).get().text in page
    assert f"/message/{message.pk}/" not in page
