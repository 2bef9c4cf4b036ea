"""The API's JSON renderer (calendar_app.api.renderers) writes what DRF's JSONRenderer writes:
the same bytes for every answer without floats, the same values with them, DRF's own path for
what orjson refuses, and the same headers and indentation through a real request."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import renderers as drf
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from calendar_app.api.renderers import JSONRenderer
from calendar_app.models import ContentStatus, Role

leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.text()  # control characters, U+2028/U+2029, astral planes
    | st.datetimes(timezones=st.none() | st.just(UTC))
    | st.dates()
    | st.times()
    | st.uuids()
    | st.sampled_from([ContentStatus.DRAFT, Role.EDITOR, gettext_lazy("Draft")])
)
answers = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=6), children, max_size=4)
        | st.builds(ReturnList, st.lists(children, max_size=3), serializer=st.none())
        | st.builds(
            ReturnDict, st.dictionaries(st.text(max_size=4), children), serializer=st.none()
        )
    ),
    max_leaves=12,
)


def _both(data, media_type="application/json"):
    return JSONRenderer().render(data, media_type), drf.JSONRenderer().render(data, media_type)


@settings(max_examples=300, deadline=None)
@given(answers)
def test_the_same_bytes_as_drf(data):
    ours, theirs = _both(data)
    assert ours == theirs


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.floats(allow_nan=False, allow_infinity=False)
        | st.decimals(allow_nan=False, allow_infinity=False),  # DRF's encoder writes a float
        st.lists,
        max_leaves=8,
    )
)
def test_floats_are_the_same_numbers(data):
    ours, theirs = _both(data)
    assert json.loads(ours) == json.loads(theirs)


@pytest.mark.parametrize(
    "data",
    [
        {"big": 2**70},  # beyond 64 bits
        {1: "a", None: "b", False: "c", 2.5: "d"},  # keys that are not strings
        {"lone": "\ud800"},  # not valid Unicode: DRF's error, as before
        {"span": timedelta(hours=1, microseconds=5)},
        {"when": datetime(2027, 3, 28, 1, 0, 0, 123456, tzinfo=UTC), "day": date(2027, 3, 28)},
        {"at": time(9, 30), "id": uuid.UUID(int=7), "price": Decimal("12.50")},
    ],
)
def test_what_orjson_refuses_or_leaves_goes_to_drf(data):
    try:
        theirs = drf.JSONRenderer().render(data, "application/json")
    except Exception as error:  # the same error, raised the same way
        with pytest.raises(type(error)):
            JSONRenderer().render(data, "application/json")
    else:
        assert JSONRenderer().render(data, "application/json") == theirs


def test_an_indented_answer_is_drfs():
    data = {"a": [1, {"b": None}]}
    assert (
        _both(data, "application/json; indent=2")[0] == _both(data, "application/json; indent=2")[1]
    )
    assert b"\n  " in JSONRenderer().render(data, "application/json; indent=2")


def test_nothing_renders_as_nothing():
    assert JSONRenderer().render(None) == b""


def test_a_nan_is_null_where_drf_raised():
    assert JSONRenderer().render({"p": float("nan")}) == b'{"p":null}'


@pytest.mark.django_db
def test_answers_are_rendered_by_it(client_for, workspace):
    from calendar_app.api.renderers import JSONRenderer as Ours

    response = client_for(Role.VIEWER).get(f"/api/v1/workspaces/{workspace.slug}/content-items/")
    assert response.status_code == 200
    assert isinstance(response.accepted_renderer, Ours)
    assert response["Content-Type"] == "application/json"
    assert response.content == drf.JSONRenderer().render(response.data, "application/json")
