"""Bulk import of content: the template, a dry run reporting every problem by row and column,
then all or nothing; dates in the brand's zone; CSV and JSON alike; another workspace's brands
and channels are unknown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calendar_app.imports import content
from calendar_app.models import ContentItem, ContentStatus, Role
from tests import factories as f
from tests.api.conftest import token_client


def url(workspace, name: str = "content-import-list") -> str:
    return reverse(f"api:{name}", kwargs={"workspace_slug": workspace.slug})


@pytest.fixture
def setup(workspace):
    brand = f.BrandFactory(workspace=workspace, slug="crunchy", time_zone="America/New_York")
    channel = f.ChannelFactory(brand=brand, handle="@crunchy")
    return brand, channel


def csv_file(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("plan.csv", text.encode(), content_type="text/csv")


def test_the_template_is_a_csv_that_imports_as_is(workspace, setup):
    client = token_client(workspace, Role.EDITOR)
    response = client.get(url(workspace, "content-import-template"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    template = response.content.decode()
    assert template.splitlines()[0] == ",".join(content.COLUMNS)
    assert "crunchy" in template and "@crunchy" in template
    done = client.post(url(workspace), {"file": csv_file(template)}, format="multipart")
    assert done.status_code == 201, done.json()
    item = ContentItem.objects.get(pk=done.json()["created"][0])
    # 09:00 in New York on 1 March 2027 (EST).
    assert item.scheduled_at == datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
    assert item.status == ContentStatus.DRAFT
    assert [c.handle for c in item.channels.all()] == ["@crunchy"]


BAD_SHEET = (
    "brand,title,body,channels,scheduled_at,links,cta_url\n"
    "crunchy,Fine,Body,@crunchy,2027-03-01 09:00,,\n"
    "nobody,No brand,Body,,,,\n"
    "crunchy,,Body,@ghost,2027-03-14 02:30,notaurl,https://ok.example.com\n"
    "crunchy,Bad date,Body,,next tuesday,,\n"
)


def test_dry_run_reports_every_problem_by_row_and_column_and_writes_nothing(workspace, setup):
    client = token_client(workspace, Role.EDITOR)
    response = client.post(
        url(workspace), {"file": csv_file(BAD_SHEET), "dry_run": "true"}, format="multipart"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["valid"] is False and body["rows"] == 4
    found = {(p["row"], p["column"]) for p in body["problems"]}
    assert found == {
        (3, "brand"),
        (4, "title"),
        (4, "channels"),
        (4, "scheduled_at"),  # 02:30 on the spring-forward day does not exist in New York
        (4, "links"),
        (5, "scheduled_at"),
    }
    assert not ContentItem.objects.exists()


def test_an_import_with_one_bad_row_is_refused_whole_then_the_fixed_sheet_goes_in(workspace, setup):
    client = token_client(workspace, Role.EDITOR)
    refused = client.post(url(workspace), {"file": csv_file(BAD_SHEET)}, format="multipart")
    assert refused.status_code == 400
    assert "rows.3.brand" in refused.json()["fields"]
    assert not ContentItem.objects.exists()
    fixed = (
        "brand,title,body,channels,scheduled_at\n"
        "crunchy,Fine,Body,@crunchy,2027-03-01 09:00\n"
        "\n"
        'crunchy,"Quoted, title","Line one\nline two",sandbox:@crunchy,2027-11-07 01:30\n'
    )
    done = client.post(url(workspace), {"file": csv_file(fixed)}, format="multipart")
    assert done.status_code == 201, done.json()
    assert done.json()["rows"] == 2
    second = ContentItem.objects.get(pk=done.json()["created"][1])
    assert second.body == "Line one\nline two"
    # 01:30 happens twice on the fall-back day: the first one (EDT), as everywhere in Kairos.
    assert second.scheduled_at == datetime(2027, 11, 7, 5, 30, tzinfo=UTC)


def test_json_rows_take_the_same_checks(workspace, setup):
    client = token_client(workspace, Role.EDITOR)
    rows = [
        {"brand": "crunchy", "title": "One", "body": "Hello", "channels": "@crunchy"},
        {"brand": "crunchy", "title": 5, "body": "Hello", "colour": "red"},
    ]
    checked = client.post(url(workspace), {"dry_run": True, "rows": rows}, format="json")
    assert checked.status_code == 200
    assert {(p["row"], p["column"]) for p in checked.json()["problems"]} == {
        (2, "title"),
        (2, "colour"),
    }
    done = client.post(url(workspace), {"rows": rows[:1]}, format="json")
    assert done.status_code == 201
    assert ContentItem.objects.get().title == "One"


def test_another_workspaces_brand_and_channel_are_unknown(workspace, other_workspace, setup):
    theirs = f.BrandFactory(workspace=other_workspace, slug="theirs")
    f.ChannelFactory(brand=theirs, handle="@theirs")
    client = token_client(workspace, Role.EDITOR)
    rows = [
        {"brand": "theirs", "title": "x", "body": "y"},
        {"brand": "crunchy", "title": "x", "body": "y", "channels": "@theirs"},
    ]
    response = client.post(url(workspace), {"rows": rows}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"rows.1.brand", "rows.2.channels"}
    assert not ContentItem.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"\xff\xfe bad", "file"),
        (b"", "file"),
        (b"brand,title,body,colour\n", "file"),
        (b"brand,title\n", "file"),
    ],
)
def test_unreadable_files_are_a_field_message(workspace, setup, data, field):
    client = token_client(workspace, Role.EDITOR)
    upload = SimpleUploadedFile("x.csv", data, content_type="text/csv")
    response = client.post(url(workspace), {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert field in response.json()["fields"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cells=st.lists(
        st.dictionaries(
            st.sampled_from((*content.COLUMNS, "other")),
            st.one_of(st.text(max_size=30), st.integers(), st.none(), st.lists(st.text())),
        ),
        max_size=5,
    )
)
def test_any_rows_get_an_answer_never_a_crash(workspace, setup, cells):
    client = token_client(workspace, Role.EDITOR)
    response = client.post(url(workspace), {"rows": cells}, format="json")
    assert response.status_code in (201, 400), response.content
    if response.status_code == 400:
        assert ContentItem.objects.count() == 0
    ContentItem.objects.all().delete()
