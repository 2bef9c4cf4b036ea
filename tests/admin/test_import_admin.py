"""The admin's import page: template download, a CSV with an error then fixed."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from calendar_app.imports.admin import problems_summary
from calendar_app.models import ContentItem, ContentStatus, Role
from tests import factories as f

PAGE = "admin:calendar_app_contentitem_import"


def upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("plan.csv", text.encode(), content_type="text/csv")


def test_import_a_csv_with_an_error_then_fixed(workspace, staff_member, login):
    brand = f.BrandFactory(workspace=workspace, slug="crunchy")
    f.ChannelFactory(brand=brand, handle="@crunchy")
    client = login(staff_member(Role.EDITOR))
    listing = client.get(reverse("admin:calendar_app_contentitem_changelist"))
    assert reverse(PAGE) in listing.content.decode()
    template = client.get(reverse(PAGE), {"template": workspace.pk})
    assert template["Content-Type"].startswith("text/csv")
    assert b"crunchy" in template.content
    bad = "brand,title,body,scheduled_at\ncrunchy,Teaser,Hello,2027-02-30 09:00\n"
    page = client.post(reverse(PAGE), {"file": upload(bad), "import": "1"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "scheduled_at" in text and "nothing was imported" in text
    assert not ContentItem.objects.exists()
    good = bad.replace("2027-02-30", "2027-02-28")
    done = client.post(reverse(PAGE), {"file": upload(good), "import": "1"}, follow=True)
    assert "Imported 1 items as drafts." in done.content.decode()
    assert ContentItem.objects.get().status == ContentStatus.DRAFT


def test_a_viewer_cannot_import(workspace, staff_member, login):
    client = login(staff_member(Role.VIEWER))
    response = client.get(reverse(PAGE))
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("problems", "rows", "expected"),
    [
        (1, 2, "1 problem in a file of 2 rows; nothing was imported."),
        (3, 1, "3 problems in a file of 1 row; nothing was imported."),
    ],
)
def test_the_refusal_counts_in_english(problems, rows, expected):
    assert problems_summary(problems, rows) == expected
