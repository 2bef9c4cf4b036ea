"""Audience lists in the admin: the CSV import page, the unsubscribe action, tenancy."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from calendar_app.audiences.models import AudienceList, Subscriber
from calendar_app.models import Role

pytestmark = pytest.mark.django_db


def import_url(audience: AudienceList) -> str:
    return reverse("admin:calendar_app_audiencelist_import", args=[audience.pk])


def upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("list.csv", text.encode(), content_type="text/csv")


def test_editor_imports_a_csv_and_sees_each_refused_row(world, staff_member, login):
    audience = AudienceList.objects.get(workspace=world["workspace"])
    client = login(staff_member(Role.EDITOR))
    assert client.get(import_url(audience)).status_code == 200
    response = client.post(
        import_url(audience),
        {
            "file": upload("email,consent_at\nnew@x.org,2026-01-01\nbad@,2026-01-01\n"),
            "consent_source": "admin import",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "invalid_email" in page and "1 created" in page
    assert Subscriber.objects.filter(audience=audience, email="new@x.org").exists()
    broken = client.post(import_url(audience), {"file": upload("name\nAda\n")})
    assert "email" in broken.content.decode() and broken.status_code == 200
    assert Subscriber.objects.filter(audience=audience).count() == 2


def test_viewer_and_outsider_cannot_import(world, staff_member, other_workspace, login):
    audience = AudienceList.objects.get(workspace=world["workspace"])
    viewer = login(staff_member(Role.VIEWER))
    assert (
        viewer.post(import_url(audience), {"file": upload("email\na@x.org\n")}).status_code == 403
    )
    outsider = login(staff_member(Role.ADMIN, ws=other_workspace))
    assert outsider.get(import_url(audience)).status_code == 404
    assert Subscriber.objects.filter(audience=audience).count() == 1


def test_unsubscribe_action(world, staff_member, login):
    subscriber = Subscriber.objects.get(workspace=world["workspace"])
    client = login(staff_member(Role.EDITOR))
    response = client.post(
        reverse("admin:calendar_app_subscriber_changelist"),
        {"action": "unsubscribe_selected", "_selected_action": [subscriber.pk]},
    )
    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert subscriber.status == "unsubscribed"
