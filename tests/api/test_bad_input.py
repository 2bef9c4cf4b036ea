"""Bad input never gives a 500 and never leaves a half-written change.

Explicit cases for each kind of mistake, then Hypothesis for the wide inputs (any JSON value in
any field of the main create calls).
"""

from __future__ import annotations

import json

import pytest
from django.test import override_settings
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calendar_app.models import Channel, ContentItem, Event, ReactiveTemplate
from tests import factories as f


def url(world, basename: str, pk: int | None = None) -> str:
    kwargs = {"workspace_slug": world.workspace.slug}
    if pk is None:
        return reverse(f"api:{basename}-list", kwargs=kwargs)
    return reverse(f"api:{basename}-detail", kwargs={**kwargs, "pk": pk})


def assert_error_shape(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "detail", "fields"}
    assert isinstance(body["detail"], str) and body["detail"]
    if code:
        assert body["code"] == code
    return body


def test_malformed_json(world, client_for):
    client = client_for("admin")
    response = client.generic(
        "POST", url(world, "brand"), "{not json", content_type="application/json"
    )
    assert_error_shape(response, 400, "parse_error")
    response = client.generic(
        "POST", url(world, "brand"), '{"name": NaN}', content_type="application/json"
    )
    assert_error_shape(response, 400, "parse_error")


def test_wrong_types_name_the_fields(world, client_for):
    body = assert_error_shape(
        client_for("admin").post(
            url(world, "content-item"),
            {"brand": "x", "title": 5, "body": ["no"], "links": "nope", "scheduled_at": 12},
            format="json",
        ),
        400,
    )
    assert {"brand", "body", "links", "scheduled_at"} <= set(body["fields"])


def test_foreign_ids_are_field_errors_like_unknown_ones(world, other_world, client_for):
    client = client_for("admin")
    payload = {
        "brand": world["brand"].pk,
        "title": "T",
        "body": "B",
        "channels": [other_world["channel"].pk],
        "experiment": other_world["experiment"].pk,
        "event": other_world["event"].pk,
    }
    body = assert_error_shape(client.post(url(world, "content-item"), payload, format="json"), 400)
    assert body["fields"]["channels"] == [
        f"Object with id {other_world['channel'].pk} does not exist."
    ]
    assert "does not exist" in body["fields"]["experiment"][0]
    unknown = assert_error_shape(
        client.post(url(world, "content-item"), {**payload, "channels": [10**6]}, format="json"),
        400,
    )
    assert unknown["fields"]["channels"] == ["Object with id 1000000 does not exist."]
    assert not ContentItem.objects.filter(title="T").exists()


@pytest.mark.parametrize("value", [2**64, -1, 0, "99999999999999999999999", 1.5, True, None])
def test_huge_and_odd_ids(world, client_for, value):
    response = client_for("admin").post(
        url(world, "channel"), {"brand": value, "network": "sandbox", "handle": "@x"}, format="json"
    )
    assert_error_shape(response, 400)


@pytest.mark.parametrize("path_id", ["99999999999999999999999", "abc", "-1", "1.5"])
def test_odd_ids_in_urls_are_404(world, client_for, path_id):
    base = url(world, "content-item")
    response = client_for("admin").get(f"{base}{path_id}/")
    assert response.status_code == 404


def test_impossible_ranges(world, client_for):
    client = client_for("admin")
    body = assert_error_shape(
        client.post(
            url(world, "event"),
            {"title": "E", "starts_at": "2027-03-01T10:00:00Z", "ends_at": "2027-02-01T10:00:00Z"},
            format="json",
        ),
        400,
    )
    assert "ends_at" in body["fields"]
    body = assert_error_shape(
        client.get(
            url(world, "content-item"),
            {"scheduled_after": "2027-03-01T00:00:00Z", "scheduled_before": "2027-01-01T00:00:00Z"},
        ),
        400,
    )
    assert "scheduled_before" in body["fields"]
    assert_error_shape(
        client.get(
            url(world, "event"), {"start": "2027-03-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}
        ),
        400,
    )
    assert_error_shape(client.get(url(world, "content-item"), {"brand": 10**30}), 400)
    assert_error_shape(
        client.get(url(world, "content-item"), {"scheduled_after": "yesterday"}), 400
    )


def test_nonexistent_local_time_is_a_field_error(world, client_for):
    """2027-03-28 02:30 does not exist in Paris (clocks jump from 02:00 to 03:00)."""
    body = assert_error_shape(
        client_for("admin").post(
            url(world, "content-item"),
            {
                "brand": world["brand"].pk,
                "title": "T",
                "body": "B",
                "scheduled_at": "2027-03-28T02:30:00",
            },
            format="json",
        ),
        400,
    )
    assert "does not exist" in body["fields"]["scheduled_at"][0]


def test_naive_times_are_read_in_the_brands_zone(world, client_for):
    response = client_for("admin").post(
        url(world, "content-item"),
        {
            "brand": world["brand"].pk,
            "title": "T",
            "body": "B",
            "scheduled_at": "2027-07-01T09:00:00",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["scheduled_at"] == "2027-07-01T07:00:00Z"
    assert response.json()["scheduled_at_local"] == "2027-07-01T09:00:00+02:00"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_oversized_body_is_413(world, client_for):
    response = client_for("admin").post(
        url(world, "brand"), {"name": "x" * 2000, "slug": "big"}, format="json"
    )
    assert_error_shape(response, 413, "request_too_large")


def test_duplicates_are_field_errors_not_500(world, client_for):
    client = client_for("admin")
    channel = world["channel"]
    body = assert_error_shape(
        client.post(
            url(world, "channel"),
            {"brand": channel.brand_id, "network": channel.network, "handle": channel.handle},
            format="json",
        ),
        400,
    )
    assert "handle" in body["fields"]
    assert_error_shape(
        client.post(
            url(world, "brand"), {"name": "Dup", "slug": world["brand"].slug}, format="json"
        ),
        400,
    )


def test_a_refused_write_leaves_nothing_behind(world, client_for):
    """Content created with channels of another brand: refused whole, no item, no links."""
    other_brand_channel = f.ChannelFactory(workspace=world.workspace)
    before = ContentItem.objects.count()
    response = client_for("admin").post(
        url(world, "content-item"),
        {
            "brand": world["brand"].pk,
            "title": "T",
            "body": "B",
            "channels": [other_brand_channel.pk],
        },
        format="json",
    )
    assert_error_shape(response, 400)
    assert ContentItem.objects.count() == before


def test_library_events_are_read_only(world, client_for):
    library = f.EventFactory(workspace=None)
    response = client_for("admin").patch(
        url(world, "event", library.pk), {"title": "Mine"}, format="json"
    )
    assert_error_shape(response, 403, "read_only_event")
    assert Event.objects.get(pk=library.pk).title != "Mine"


def test_unknown_network_is_a_field_error(world, client_for):
    body = assert_error_shape(
        client_for("admin").post(
            url(world, "channel"),
            {"brand": world["brand"].pk, "network": "myspace", "handle": "@x"},
            format="json",
        ),
        400,
    )
    assert "network" in body["fields"]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=st.dictionaries(
        st.sampled_from(
            [
                "brand",
                "title",
                "body",
                "links",
                "media",
                "channels",
                "event",
                "experiment",
                "scheduled_at",
                "lateness_policy",
                "lateness_tolerance",
                "cta_url",
            ]
        ),
        json_values,
        max_size=8,
    )
)
def test_content_create_with_any_json_never_500s(world, client_for, payload):
    before = ContentItem.objects.count()
    response = client_for("editor").post(url(world, "content-item"), payload, format="json")
    assert response.status_code in (201, 400), response.content
    if response.status_code == 400:
        assert ContentItem.objects.count() == before
        assert set(response.json()) == {"code", "detail", "fields"}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=st.dictionaries(
        st.sampled_from(
            ["title", "starts_at", "ends_at", "time_zone", "rrule", "themes", "audience", "all_day"]
        ),
        json_values
        | st.sampled_from(
            [
                "2027-02-14T18:00:00",
                "2027-02-14T18:00:00+05:00",
                "FREQ=YEARLY",
                "Europe/Paris",
                "0001-01-01T00:00:00+01:00",
            ]
        ),
        max_size=8,
    )
)
def test_event_create_with_any_json_never_500s(world, client_for, payload):
    response = client_for("editor").post(url(world, "event"), payload, format="json")
    assert response.status_code in (201, 400), response.content


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=st.dictionaries(
        st.sampled_from(
            [
                "body",
                "valid_from",
                "valid_until",
                "cooldown",
                "max_fires",
                "channels",
                "links",
                "scenario",
            ]
        ),
        json_values,
        max_size=6,
    )
)
def test_template_patch_with_any_json_never_500s(world, client_for, payload):
    template = world["reactive-template"]
    before = ReactiveTemplate.objects.get(pk=template.pk).updated_at
    response = client_for("editor").patch(
        url(world, "reactive-template", template.pk), payload, format="json"
    )
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert ReactiveTemplate.objects.get(pk=template.pk).updated_at == before


def test_channel_secrets_never_come_back(world, client_for):
    client = client_for("admin")
    created = client.post(
        url(world, "channel"),
        {
            "brand": world["brand"].pk,
            "network": "sandbox",
            "handle": "@new",
            "secrets": {"token": "hunter2"},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert "secrets" not in created.json() and created.json()["has_secrets"] is True
    for response in (
        client.get(url(world, "channel")),
        client.get(url(world, "channel", created.json()["id"])),
    ):
        assert "hunter2" not in json.dumps(response.json())
    assert Channel.objects.get(pk=created.json()["id"]).secrets == {"token": "hunter2"}


NUL_BODIES = [
    ("brand", {"name": "Nul", "slug": "nul", "profile": {"themes": ["a\u0000b"]}}),
    (
        "event",
        {
            "title": "T",
            "starts_at": "2030-01-01T10:00:00Z",
            "ends_at": "2030-01-01T11:00:00Z",
            "themes": ["x\u0000"],
        },
    ),
    ("content-item", {"title": "T\u0000", "body": "b"}),
]


@pytest.mark.parametrize(("basename", "body"), NUL_BODIES, ids=[b for b, _ in NUL_BODIES])
def test_null_characters_are_a_400_on_every_database(basename, body, world):
    """PostgreSQL cannot store NUL; it must be a field error, not a 500, on SQLite and PostgreSQL."""
    from django.urls import reverse

    from calendar_app.models import Role
    from tests.api.conftest import token_client

    client = token_client(world.workspace, Role.ADMIN)
    url = reverse(f"api:{basename}-list", kwargs={"workspace_slug": world.workspace.slug})
    payload = dict(body)
    if basename == "content-item":
        payload["brand"] = world["brand"].pk
    response = client.post(url, payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["fields"]


@pytest.mark.parametrize("depth", [200, 100_000])
@pytest.mark.parametrize("basename", ["brand", "content-item", "channel", "event"])
def test_deeply_nested_json_is_a_400_not_a_500(world, client_for, basename, depth):
    """Security review, item 7: a body nested thousands of levels deep crashed the request with
    a RecursionError (500) in the parser or a recursive validator."""
    body = '{"settings": ' + "[" * depth + "]" * depth + ', "name": "x"}'
    response = client_for("admin").generic(
        "POST", url(world, basename), body, content_type="application/json"
    )
    payload = assert_error_shape(response, 400, "parse_error")
    assert "nested" in payload["detail"]
