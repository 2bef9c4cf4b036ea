"""``AnyOf`` (calendar_app.sql.any_of): the rows ``pk__in`` finds, sent to PostgreSQL as one
array parameter, so a statement by ids is one statement for any number of ids, and compiled once
(calendar_app.sql.prepared) with the ids' stand-ins coming back inside that array."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calendar_app.models import ContentItem
from calendar_app.sql.any_of import AnyOf
from calendar_app.sql.prepared import PreparedRows
from tests import factories as f

pytestmark = pytest.mark.django_db

MAX_ID = 2**63 - 1


@pytest.fixture
def items(workspace):
    brand = f.BrandFactory(workspace=workspace)
    return [f.ContentItemFactory(workspace=workspace, brand=brand).pk for _ in range(5)]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    picks=st.lists(st.integers(0, 6), max_size=8),
    others=st.lists(st.integers(-MAX_ID, MAX_ID), max_size=4),
)
def test_any_of_finds_what_in_finds(items, picks, others):
    ids = [items[pick] for pick in picks if pick < len(items)] + others  # repeats, unknowns
    expected = sorted(ContentItem.objects.filter(pk__in=ids).values_list("pk", flat=True))
    found = sorted(ContentItem.objects.filter(AnyOf(F("id"), ids)).values_list("pk", flat=True))
    assert found == expected


def test_no_ids_send_no_statement(items):
    with CaptureQueriesContext(connection) as queries:
        assert list(ContentItem.objects.filter(AnyOf(F("id"), []))) == []
    assert len(queries) == 0


def test_on_postgresql_the_ids_are_one_array_parameter(items):
    three = ContentItem.objects.filter(AnyOf(F("id"), items[:3])).values_list("pk")
    many = ContentItem.objects.filter(AnyOf(F("id"), list(range(1, 151)))).values_list("pk")
    (sql_three, params_three), (sql_many, params_many) = (
        query.query.sql_with_params() for query in (three, many)
    )
    if connection.vendor == "postgresql":
        assert "= ANY(%s::bigint[])" in sql_three
        assert sql_three == sql_many  # one statement to parse and prepare for any number
        assert list(params_three) == [items[:3]]
        assert list(params_many) == [list(range(1, 151))]
    else:  # Django's IN
        assert " IN (%s, %s, %s)" in sql_three and list(params_three) == items[:3]
        assert len(params_many) == 150


def test_stand_ins_in_an_array_are_compiled_once(workspace, other_workspace, items):
    """The ids' stand-ins come back inside one list on PostgreSQL, one by one elsewhere: either
    way the statement is compiled once, and each call's ids go where their stand-ins went."""
    theirs = f.ContentItemFactory(workspace=other_workspace, brand__workspace=other_workspace)
    built = []

    def build(workspace_id, *ids):
        built.append(ids)
        return ContentItem.objects.filter(
            AnyOf(F("id"), ids), workspace_id=workspace_id
        ).values_list("pk", "title")

    lookup = PreparedRows(build, stand_ins=[-9_001, -9_002, -9_003, -9_004])
    picked = [items[3], theirs.pk, items[0]]
    assert sorted(lookup.rows(workspace.pk, *picked)) == sorted(
        ContentItem.objects.filter(pk__in=[items[3], items[0]]).values_list("pk", "title")
    )
    assert sorted(lookup.rows(other_workspace.pk, *picked)) == [(theirs.pk, theirs.title)]
    assert lookup._prepared["default"] is not None and len(built) == 1
