"""The audience endpoints: behaviour, bad input (4xx with a field, never 500), and tenancy for
every endpoint (another workspace's ids or slug answer 404 and change nothing)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse

from calendar_app.audiences.models import AudienceList, AudienceSend, Subscriber
from calendar_app.models import Role
from tests import factories as f
from tests.api.conftest import token_client
from tests.audiences.conftest import AudienceListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


@dataclass
class Tenant:
    workspace: object
    audience: AudienceList
    subscriber: Subscriber
    send: AudienceSend


def build_tenant(workspace) -> Tenant:
    brand = f.BrandFactory(workspace=workspace)
    audience = AudienceListFactory(brand=brand, workspace=workspace)
    subscriber = SubscriberFactory(audience=audience, email="shared@example.org")
    channel = f.ChannelFactory(brand=brand, workspace=workspace)
    item = f.ContentItemFactory(brand=brand, workspace=workspace, channels=[channel])
    publication = f.PublicationFactory(content_item=item, channel=channel, workspace=workspace)
    send = AudienceSend.objects.create(
        workspace=workspace, publication=publication, audience=audience, total=0
    )
    return Tenant(workspace, audience, subscriber, send)


@pytest.fixture
def mine(workspace):
    return build_tenant(workspace)


@pytest.fixture
def theirs(other_workspace):
    return build_tenant(other_workspace)


def csv_upload(text: str, **fields):
    upload = io.BytesIO(text.encode())
    upload.name = "subscribers.csv"
    return {"file": upload, **fields}


# Every endpoint: (method, url name, kwargs from (tenant whose ids, tenant whose slug), body).
def endpoints(ids: Tenant, slug: Tenant):
    ws = {"workspace_slug": slug.workspace.slug}
    a = {**ws, "audience_pk": ids.audience.pk}
    return [
        ("get", "audience-list", ws, None),
        ("post", "audience-list", ws, {"brand": ids.audience.brand_id, "name": "New"}),
        ("get", "audience-detail", {**ws, "pk": ids.audience.pk}, None),
        ("patch", "audience-detail", {**ws, "pk": ids.audience.pk}, {"name": "Renamed"}),
        ("put", "audience-detail", {**ws, "pk": ids.audience.pk}, {"brand": 1, "name": "R"}),
        ("get", "subscriber-list", a, None),
        (
            "post",
            "subscriber-list",
            a,
            {"email": "n@x.org", "consent_at": "2026-01-01T00:00:00Z", "consent_source": "form"},
        ),
        ("get", "subscriber-detail", {**a, "pk": ids.subscriber.pk}, None),
        ("delete", "subscriber-detail", {**a, "pk": ids.subscriber.pk}, None),
        ("post", "audience-import", a, "csv"),
        ("get", "audience-send-list", ws, None),
        ("get", "audience-send-detail", {**ws, "pk": ids.send.pk}, None),
        ("post", "audience-feedback", ws, {"email": "shared@example.org", "kind": "bounce"}),
    ]


def snapshot(tenant: Tenant) -> dict:
    rows = list(AudienceList.objects.filter(workspace=tenant.workspace)) + list(
        Subscriber.objects.filter(workspace=tenant.workspace)
    )
    return {(type(r).__name__, r.pk): model_to_dict(r) for r in rows}


def send(client, method, name, kwargs, body):
    url = reverse(f"api:{name}", kwargs=kwargs)
    if body == "csv":
        return client.post(
            url,
            csv_upload("email,consent_at,consent_source\nz@x.org,2026-01-01,f\n"),
            format="multipart",
        )
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, format="json")


@pytest.mark.parametrize("index", range(13))
def test_foreign_workspace_slug_answers_404_and_changes_nothing(index, mine, theirs):
    client = token_client(mine.workspace, Role.ADMIN)
    method, name, kwargs, body = endpoints(theirs, theirs)[index]
    before = snapshot(theirs)
    response = send(client, method, name, kwargs, body)
    assert response.status_code == 404, (name, response.content)
    assert snapshot(theirs) == before


@pytest.mark.parametrize("index", [2, 3, 4, 5, 6, 7, 8, 9, 11])
def test_foreign_ids_under_own_slug_answer_404_and_change_nothing(index, mine, theirs):
    client = token_client(mine.workspace, Role.ADMIN)
    method, name, kwargs, body = endpoints(theirs, mine)[index]
    before = snapshot(theirs)
    response = send(client, method, name, kwargs, body)
    assert response.status_code == 404, (name, response.content)
    assert snapshot(theirs) == before


def test_foreign_brand_and_foreign_list_in_bodies_are_refused(mine, theirs):
    client = token_client(mine.workspace, Role.ADMIN)
    url = reverse("api:audience-list", kwargs={"workspace_slug": mine.workspace.slug})
    response = client.post(url, {"brand": theirs.audience.brand_id, "name": "X"}, format="json")
    assert response.status_code == 400 and "brand" in response.json()["fields"]
    feedback = reverse("api:audience-feedback", kwargs={"workspace_slug": mine.workspace.slug})
    response = client.post(
        feedback,
        {"email": "shared@example.org", "kind": "bounce", "audience": theirs.audience.pk},
        format="json",
    )
    assert response.status_code == 400 and "audience" in response.json()["fields"]
    theirs.subscriber.refresh_from_db()
    assert theirs.subscriber.status == "subscribed"


def test_lists_show_only_own_rows(mine, theirs):
    client = token_client(mine.workspace, Role.VIEWER)
    ws = {"workspace_slug": mine.workspace.slug}
    audiences = client.get(reverse("api:audience-list", kwargs=ws)).json()["results"]
    assert [row["id"] for row in audiences] == [mine.audience.pk]
    assert audiences[0]["subscribed_count"] == 1
    sends = client.get(reverse("api:audience-send-list", kwargs=ws)).json()["results"]
    assert [row["id"] for row in sends] == [mine.send.pk]
    subs = client.get(
        reverse("api:subscriber-list", kwargs={**ws, "audience_pk": mine.audience.pk})
    ).json()["results"]
    assert [row["id"] for row in subs] == [mine.subscriber.pk]
    assert "unsubscribe_token" not in subs[0]


@pytest.mark.parametrize("index", [1, 3, 6, 8, 9, 12])
def test_viewers_cannot_write(index, mine):
    client = token_client(mine.workspace, Role.VIEWER)
    method, name, kwargs, body = endpoints(mine, mine)[index]
    before = snapshot(mine)
    assert send(client, method, name, kwargs, body).status_code == 403
    assert snapshot(mine) == before


def test_create_update_and_duplicate_name(mine):
    client = token_client(mine.workspace, Role.EDITOR)
    url = reverse("api:audience-list", kwargs={"workspace_slug": mine.workspace.slug})
    created = client.post(url, {"brand": mine.audience.brand_id, "name": "VIP"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["subscribed_count"] == 0
    again = client.post(url, {"brand": mine.audience.brand_id, "name": "VIP"}, format="json")
    assert again.status_code == 400 and again.json()["fields"]["name"]
    detail = reverse(
        "api:audience-detail",
        kwargs={"workspace_slug": mine.workspace.slug, "pk": created.json()["id"]},
    )
    renamed = client.patch(detail, {"description": "Best customers"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["description"] == "Best customers"


def test_add_and_remove_subscribers_with_field_errors(mine):
    client = token_client(mine.workspace, Role.EDITOR)
    url = reverse(
        "api:subscriber-list",
        kwargs={"workspace_slug": mine.workspace.slug, "audience_pk": mine.audience.pk},
    )
    good = {"email": "New@Example.ORG", "consent_at": "2026-02-01T08:00:00Z", "consent_source": "f"}
    created = client.post(url, good, format="json")
    assert created.status_code == 201 and created.json()["email"] == "New@example.org"
    assert client.post(url, good, format="json").json()["fields"]["email"][0]
    bad = client.post(url, {**good, "email": "nope"}, format="json")
    assert bad.status_code == 400 and "email" in bad.json()["fields"]
    missing = client.post(url, {"email": "c@x.org"}, format="json")
    assert missing.status_code == 400
    assert {"consent_at", "consent_source"} <= set(missing.json()["fields"])
    detail = reverse(
        "api:subscriber-detail",
        kwargs={
            "workspace_slug": mine.workspace.slug,
            "audience_pk": mine.audience.pk,
            "pk": created.json()["id"],
        },
    )
    assert client.delete(detail).status_code == 204
    assert not Subscriber.objects.filter(pk=created.json()["id"]).exists()


def test_import_endpoint_summary_and_malformed_file(mine):
    client = token_client(mine.workspace, Role.EDITOR)
    url = reverse(
        "api:audience-import",
        kwargs={"workspace_slug": mine.workspace.slug, "audience_pk": mine.audience.pk},
    )
    response = client.post(
        url,
        csv_upload(
            "email,name\nok@x.org,Ok\nbad@,Bad\nshared@example.org,Dup\n",
            consent_source="fair",
            consent_at="2026-01-01T00:00:00Z",
        ),
        format="multipart",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["rows"], body["created"], body["skipped"]) == (3, 1, 2)
    assert body["error_counts"] == {"invalid_email": 1, "duplicate": 1}
    count = Subscriber.objects.filter(audience=mine.audience).count()
    broken = client.post(url, csv_upload("name\nAda\n"), format="multipart")
    assert broken.status_code == 400 and broken.json()["fields"]["file"]
    assert Subscriber.objects.filter(audience=mine.audience).count() == count
    assert client.post(url, {}, format="multipart").status_code == 400


def test_feedback_endpoint_records_a_complaint(mine):
    client = token_client(mine.workspace, Role.ADMIN)
    url = reverse("api:audience-feedback", kwargs={"workspace_slug": mine.workspace.slug})
    response = client.post(url, {"email": "SHARED@example.org", "kind": "complaint"}, format="json")
    assert response.status_code == 200 and response.json() == {"updated": 1}
    mine.subscriber.refresh_from_db()
    assert mine.subscriber.status == "complained"
    bad = client.post(url, {"email": "x", "kind": "open"}, format="json")
    assert bad.status_code == 400 and {"email", "kind"} <= set(bad.json()["fields"])
