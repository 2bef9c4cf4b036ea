"""Each disagreement between the OpenAPI schema and the API that schema fuzzing found, as the
exact request that showed it (security review, issue 14 item 7). The seeded run that keeps
finding new ones is tests/api/test_schema_fuzz.py (``-m fuzz``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from calendar_app.api.pagination import MAX_PAGE_SIZE


def url(world, basename: str, pk: int | None = None, suffix: str = "") -> str:
    kwargs = {"workspace_slug": world.workspace.slug}
    if pk is None:
        return reverse(f"api:{basename}-list", kwargs=kwargs) + suffix
    return reverse(f"api:{basename}-detail", kwargs={**kwargs, "pk": pk}) + suffix


def field_error(response, field: str, status: int = 400) -> list[str]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "detail", "fields"}
    assert field in body["fields"], body
    return body["fields"][field]


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict[str, Any]:
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def operation(schema: dict, path_end: str, method: str) -> dict[str, Any]:
    for path, item in schema["paths"].items():
        if path.endswith(path_end):
            return item[method]
    raise AssertionError(f"no {path_end}")


def query_schema(op: dict, name: str) -> dict[str, Any]:
    return next(p["schema"] for p in op["parameters"] if p["name"] == name)


# --- page_size and page: integers in range, or a 400 ---------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "page_size=null&page_size=null",  # what the fuzzer sent: silently ignored before
        "page_size=abc",
        "page_size=0",
        "page_size=-5",
        f"page_size={MAX_PAGE_SIZE + 1}",  # clamped to 200 before
        "page_size=%C2%B2",  # '²' is a digit to str.isdigit, not to int()
        "page_size=",  # not an integer either
    ],
)
@pytest.mark.parametrize("basename", ["brand", "event"])  # numbered pages and cursor pages
def test_a_bad_page_size_is_a_400_on_page_size(world, client_for, basename, query):
    response = client_for("admin").get(url(world, basename, suffix=f"?{query}"))
    assert field_error(response, "page_size")


def test_page_size_in_range_is_honoured(world, client_for):
    response = client_for("admin").get(url(world, "brand", suffix=f"?page_size={MAX_PAGE_SIZE}"))
    assert response.status_code == 200


@pytest.mark.parametrize("query", ["page=0", "page=abc", "page=last"])
def test_a_bad_page_number_is_a_400(world, client_for, query):
    assert field_error(client_for("admin").get(url(world, "brand", suffix=f"?{query}")), "page")


def test_the_schema_declares_the_page_bounds(schema):
    op = operation(schema, "/brands/", "get")
    assert query_schema(op, "page_size") == {"type": "integer", "minimum": 1, "maximum": 200}
    assert query_schema(op, "page") == {"type": "integer", "minimum": 1}
    cursor_op = operation(schema, "/events/", "get")
    assert query_schema(cursor_op, "page_size")["maximum"] == MAX_PAGE_SIZE


# --- time zones: the schema lists them, the API refuses the rest -------------------------------


@pytest.mark.parametrize("zone", ["", "0", "Mars/Olympus"])
def test_an_empty_or_unknown_time_zone_is_a_400(world, client_for, zone):
    client = client_for("admin")
    brand = client.post(url(world, "brand"), {"name": "Z", "slug": "z", "time_zone": zone})
    assert field_error(brand, "time_zone")
    event = client.post(
        url(world, "event"),
        {
            "title": "Match",
            "starts_at": "2027-02-14T18:00:00Z",
            "ends_at": "2027-02-14T20:00:00Z",
            "time_zone": zone,
        },
    )
    assert field_error(event, "time_zone")


def test_the_schema_lists_the_time_zones(schema):
    for name in ("BrandRequest", "EventRequest"):
        zone = schema["components"]["schemas"][name]["properties"]["time_zone"]
        assert "Europe/Paris" in zone["enum"] and "" not in zone["enum"]
    tz = query_schema(operation(schema, "/calendar/", "get"), "tz")
    assert "America/New_York" in tz["enum"]


# --- strict JSON types: booleans, numbers, strings and ids are what the schema says ----------


@pytest.mark.parametrize("value", ["true", "false", "1", 0, "on"])
def test_a_boolean_as_a_string_or_number_is_a_400(world, client_for, value):
    response = client_for("admin").post(
        url(world, "webhook-subscription"),
        {"url": "https://hooks.example.com/k", "is_active": value},
    )
    messages = field_error(response, "is_active")
    assert "Expected a boolean" in messages[0]


def test_a_json_boolean_is_accepted(world, client_for):
    response = client_for("admin").post(
        url(world, "webhook-subscription"),
        {"url": "https://hooks.example.com/k", "is_active": False},
    )
    assert response.status_code == 201, response.content
    assert response.json()["is_active"] is False


def test_numbers_strings_and_ids_must_have_their_json_type(world, client_for):
    client = client_for("admin")
    template = world["reactive-template"]
    response = client.patch(
        url(world, "reactive-template", template.pk),
        {"max_fires": "5", "name": 12, "brand": str(world["brand"].pk), "channels": "1"},
        HTTP_IF_MATCH="*",
    )
    assert response.status_code == 400, response.content
    fields = response.json()["fields"]
    assert fields["max_fires"] == ["Expected an integer, got string."]
    assert fields["name"] == ["Expected a string, got integer."]
    assert fields["brand"] == ["Expected an integer, got string."]
    assert fields["channels"] == ["Expected an array, got string."]


def test_list_items_are_checked_too(world, client_for):
    response = client_for("admin").post(
        url(world, "event"),
        {
            "title": "Match",
            "starts_at": "2027-02-14T18:00:00Z",
            "ends_at": "2027-02-14T20:00:00Z",
            "themes": ["sport", 7],
        },
    )
    assert field_error(response, "themes.1") == ["Expected a string, got integer."]


def test_a_form_encoded_body_is_415(world, client_for):
    """Forms carry every value as a string, so the JSON contract cannot hold for them."""
    response = client_for("admin").post(
        url(world, "webhook-subscription"),
        "url=https%3A%2F%2Fhooks.example.com%2Fk&is_active=0",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


# --- query parameters: booleans, orderings and empty values -----------------------------------


@pytest.mark.parametrize("value", ["maybe", "", "yes please"])
def test_a_boolean_filter_takes_true_or_false_only(world, client_for, value):
    response = client_for("admin").get(
        url(world, "reactive-template", suffix=f"?is_active={value}")
    )
    assert field_error(response, "is_active")


def test_a_boolean_filter_filters(world, client_for):
    from calendar_app.models import ReactiveTemplate

    ReactiveTemplate.objects.filter(pk=world["reactive-template"].pk).update(is_active=False)
    total = ReactiveTemplate.objects.filter(workspace=world.workspace).count()
    client = client_for("admin")
    on = client.get(url(world, "reactive-template", suffix="?is_active=true")).json()
    off = client.get(url(world, "reactive-template", suffix="?is_active=false")).json()
    assert [t["id"] for t in off["results"]] == [world["reactive-template"].pk]
    assert len(on["results"]) + len(off["results"]) == total


@pytest.mark.parametrize("ordering", ["bogus", "name,bogus", "", "-", "name,", "name,%20id"])
def test_an_unknown_ordering_is_a_400(world, client_for, ordering):
    response = client_for("admin").get(url(world, "brand", suffix=f"?ordering={ordering}"))
    assert "Order by one or more of" in field_error(response, "ordering")[0]


def test_a_listed_ordering_works(world, client_for):
    response = client_for("admin").get(url(world, "brand", suffix="?ordering=-name,id"))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("basename", "query"),
    [
        ("content-item", "scheduled_before="),  # what the fuzzer sent: read as "no filter"
        ("publication", "due_after="),
        ("webhook-delivery", "created_before="),
        ("channel", "brand="),
        ("content-item", "status="),
    ],
)
def test_an_empty_typed_filter_is_a_400(world, client_for, basename, query):
    name = query.rstrip("=")
    response = client_for("admin").get(url(world, basename, suffix=f"?{query}"))
    assert "Give a value, or leave the parameter out." in field_error(response, name)


@pytest.mark.parametrize(
    "query",
    [
        "end=0180-01-28T12%3A28%3A08-22%3A45",  # a DataError (400 "cannot be stored") on PostgreSQL
        "start=9999-12-31T23%3A00%3A00-05%3A00",  # past year 9998 once in UTC
    ],
)
def test_an_instant_filter_is_bounded_like_a_body_instant(world, client_for, query):
    response = client_for("admin").get(url(world, "event", suffix=f"?{query}"))
    name = query.split("=")[0]
    assert field_error(response, name) == ["Give a date between 1900 and 9998."]


def test_an_instant_filter_with_any_offset_is_read_in_utc(world, client_for):
    response = client_for("admin").get(
        url(world, "publication", suffix="?due_after=2000-01-01T00%3A00%3A00-14%3A30")
    )
    assert response.status_code == 200, response.content


def test_an_empty_text_filter_is_allowed(world, client_for):
    assert client_for("admin").get(url(world, "event", suffix="?theme=")).status_code == 200


def test_filters_are_typed_in_the_schema(schema):
    events = operation(schema, "/events/", "get")
    assert query_schema(events, "start")["format"] == "date-time"
    assert query_schema(events, "start")["pattern"].startswith("^(?:19")
    assert query_schema(events, "brand") == {"type": "integer", "minimum": 1}
    assert query_schema(events, "min_fit")["maximum"] == 100
    templates = operation(schema, "/reactive-templates/", "get")
    assert query_schema(templates, "is_active")["type"] == "boolean"
    brands = operation(schema, "/brands/", "get")
    assert "bogus" not in query_schema(brands, "ordering")["pattern"]


# --- documented bodies and statuses ------------------------------------------------------------


def test_workflow_actions_document_their_own_body(schema):
    """Every content action was documented as taking a whole content item."""
    body = operation(schema, "/content-items/{id}/reschedule/", "post")["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/RescheduleRequest")
    approve = operation(schema, "/content-items/{id}/approve/", "post")["requestBody"]
    assert approve["content"]["application/json"]["schema"]["$ref"].endswith("/TransitionRequest")


def test_json_only_bodies_and_their_errors_are_declared(schema):
    brand_post = operation(schema, "/brands/", "post")
    assert list(brand_post["requestBody"]["content"]) == ["application/json"]
    assert {"400", "401", "403", "404", "409", "413", "415", "429"} <= set(brand_post["responses"])
    media_post = operation(schema, "/media/", "post")
    assert list(media_post["requestBody"]["content"]) == ["multipart/form-data"]
    # a detail GET with a query parameter can answer 400 (the fuzzer got an undeclared one)
    timeseries = operation(schema, "/experiments/{id}/timeseries/", "get")
    assert "400" in timeseries["responses"]
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "detail", "fields"}


def test_profile_and_settings_are_objects(world, client_for, schema):
    components = schema["components"]["schemas"]
    assert components["BrandRequest"]["properties"]["profile"]["type"] == "object"
    assert components["ChannelRequest"]["properties"]["settings"]["type"] == "object"
    response = client_for("admin").patch(
        url(world, "brand", world["brand"].pk), {"profile": {"themes": ["x"], "colour": "red"}}
    )
    assert field_error(response, "profile")


# --- 500s the fuzzer found on the way ---------------------------------------------------------


def test_a_unicode_digit_in_a_path_id_is_a_404(world, client_for):
    """``'²'.isdigit()`` is true but ``int('²')`` fails: a 500 before."""
    response = client_for("admin").get(
        f"/api/v1/workspaces/{world.workspace.slug}/audiences/%C2%B2/subscribers/"
    )
    assert response.status_code == 404


def test_the_schema_states_djangos_email_rule(world, client_for, schema):
    """``format: email`` allowed ``0@0.a``; Django refuses a one-letter top-level domain."""
    body = {"email": "0@0.a", "kind": "bounce"}
    path = f"/api/v1/workspaces/{world.workspace.slug}/audience-feedback/"
    assert field_error(client_for("admin").post(path, body), "email")
    email = schema["components"]["schemas"]["FeedbackRequest"]["properties"]["email"]
    assert email["format"] == "email" and email["pattern"].endswith("[A-Za-z0-9]$")


def test_a_huge_media_asset_id_is_a_400(world, client_for):
    """An id past 2**63 reached the database: OverflowError, a 500 (found by the fast run)."""
    response = client_for("admin").post(
        url(world, "content-item"),
        {"brand": world["brand"].pk, "title": "T", "body": "B", "media": [{"asset": 2**64}]},
    )
    assert response.status_code == 400, response.content
    assert "media" in response.json()["fields"]


def test_schema_is_json_serialisable(schema):
    json.dumps(schema)


def test_a_blank_after_trimming_text_is_refused_and_the_schema_says_so(world, client_for, schema):
    """DRF trims before its blank check: "  " was allowed by ``minLength: 1`` and refused."""
    response = client_for("admin").post(url(world, "token"), {"name": "   ", "role": "viewer"})
    assert field_error(response, "name") == ["This field may not be blank."]
    name = schema["components"]["schemas"]["ApiTokenRequest"]["properties"]["name"]
    assert name["pattern"] == r"\S"


def test_local_times_before_standard_time_are_rfc3339(world, client_for):
    """Paris ran on local mean time (+00:09:21) until 1911: the offset had seconds, which a
    ``date-time`` cannot carry (found by the fuzzer on a template's ``valid_until_local``)."""
    template = world["reactive-template"]
    template.brand.time_zone = "Europe/Paris"
    template.brand.save()
    response = client_for("admin").patch(
        url(world, "reactive-template", template.pk),
        {"valid_from": "1908-05-08T22:46:56Z", "valid_until": "1908-05-08T23:46:56Z"},
    )
    assert response.status_code == 200, response.content
    local = response.json()["valid_from_local"]
    assert local == "1908-05-08T22:55:56+00:09"  # the same instant, offset to the minute
