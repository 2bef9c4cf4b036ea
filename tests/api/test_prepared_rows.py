"""Lookups compiled once (calendar_app.sql.prepared): the token of every API request reads
the same token, workspace and user as the ORM's ``select_related`` did, and a query whose
values Django would transform falls back to the ORM instead of running wrong SQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from calendar_app.api.authentication import token_by_prefix
from calendar_app.models import ApiToken, ContentItem, Role
from calendar_app.sql.prepared import PreparedRows

pytestmark = pytest.mark.django_db


def _fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


@pytest.mark.parametrize("personal", [True, False])
def test_the_token_and_its_relations_are_the_orms(workspace, personal):
    user = get_user_model().objects.create_user("ana", "ana@example.com", "x" * 12)
    token, _ = ApiToken.issue(
        workspace=workspace, name="ci", role=Role.EDITOR, user=user if personal else None
    )
    ApiToken.objects.filter(pk=token.pk).update(
        last_used_at=timezone.now(), expires_at=timezone.now() + timedelta(days=3)
    )
    expected = ApiToken.objects.select_related("workspace", "user").get(pk=token.pk)
    found = token_by_prefix(token.prefix)
    assert _fields(found) == _fields(expected)
    assert found.expires_at.tzinfo is not None  # converted as the ORM converts
    assert _fields(found.workspace) == _fields(expected.workspace)
    if personal:
        assert _fields(found.user) == _fields(expected.user)
    else:
        assert found.user is None
    assert not found._state.adding


def test_an_unknown_prefix_is_none(workspace):
    assert token_by_prefix("0" * 8) is None


def test_a_value_django_would_transform_falls_back_to_the_orm(workspace):
    ApiToken.issue(workspace=workspace, name="a", role=Role.VIEWER)
    token = ApiToken.objects.get()
    # contains compiles its value into a pattern (%, _ escaped, wrapped in %) on every
    # database: the stand-in does not come back as the parameter
    lookup = PreparedRows(
        lambda part: ApiToken.objects.filter(prefix__contains=part).values_list("pk"),
        stand_ins=["Stand-in%_"],
    )
    assert lookup.rows(token.prefix[2:5]) == [(token.pk,)]
    assert lookup.rows("%") == []  # a pattern character is a character, as in the ORM
    assert lookup._prepared == {"default": None}


@pytest.mark.parametrize("lookup", ["9" * 25, str(2**63), "0", "00", "1e3"])
def test_a_detail_by_an_impossible_id_is_a_404(workspace, client_for, lookup):
    response = client_for(Role.VIEWER).get(
        f"/api/v1/workspaces/{workspace.slug}/content-items/{lookup}/"
    )
    assert response.status_code == 404, response.content
    assert response.json() == {"detail": "Not found.", "code": "not_found", "fields": {}}


def test_a_detail_by_id_is_the_workspaces_item_only(workspace, other_workspace, client_for):
    from tests.factories import ContentItemFactory

    mine = ContentItemFactory(workspace=workspace, brand__workspace=workspace)
    theirs = ContentItemFactory(workspace=other_workspace, brand__workspace=other_workspace)
    client = client_for(Role.VIEWER)
    base = f"/api/v1/workspaces/{workspace.slug}/content-items"
    assert client.get(f"{base}/{mine.pk}/").json()["id"] == mine.pk
    assert client.get(f"{base}/{theirs.pk}/").status_code == 404


def test_values_go_where_their_stand_ins_were_compiled(workspace, other_workspace):
    """``filter(workspace_id=..., pk=...)`` compiles the ``pk`` first: the values follow their
    stand-ins, and the query is built once, not on every run."""
    from tests.factories import ContentItemFactory

    mine = ContentItemFactory(workspace=workspace, brand__workspace=workspace)
    ContentItemFactory(workspace=other_workspace, brand__workspace=other_workspace)
    builds = []

    def build(workspace_id, pk):
        builds.append((workspace_id, pk))
        return ContentItem.objects.filter(workspace_id=workspace_id, pk=pk).values_list("pk")

    lookup = PreparedRows(build, stand_ins=[-11, -12])
    assert lookup.rows(workspace.pk, mine.pk) == [(mine.pk,)]
    assert lookup.rows(other_workspace.pk, mine.pk) == []
    assert lookup.rows(workspace.pk, mine.pk + 1000) == []
    assert builds == [(-11, -12)]  # compiled once, with the stand-ins


def test_the_item_lookup_of_a_detail_is_compiled_once(workspace):
    from calendar_app.api.read import content_items

    assert content_items.row_by_id(workspace.pk, 1) is None
    assert content_items._BY_ID._prepared["default"] is not None


def test_stand_ins_must_be_distinct():
    with pytest.raises(ValueError, match="distinct"):
        PreparedRows(lambda a, b: ApiToken.objects.filter(pk=a, workspace_id=b), [-1, -1])


def test_rows_are_converted_for_the_zone_and_use_tz_in_force(workspace):
    """The converters are kept per connection and made again when the settings they read
    change (a test's ``override_settings``): the rows stay the ORM's."""
    from django.test import override_settings

    ApiToken.issue(workspace=workspace, name="a", role=Role.VIEWER)
    lookup = PreparedRows(
        lambda pk: ApiToken.objects.filter(pk=pk).values_list("created_at", "expires_at"),
        stand_ins=[-9_001],
    )
    token = ApiToken.objects.get()
    assert lookup.rows(token.pk) == list(
        ApiToken.objects.filter(pk=token.pk).values_list("created_at", "expires_at")
    )
    with override_settings(USE_TZ=False):
        naive = lookup.rows(token.pk)
        assert naive == list(
            ApiToken.objects.filter(pk=token.pk).values_list("created_at", "expires_at")
        )
    aware = lookup.rows(token.pk)
    assert aware[0][0].tzinfo is not None
    assert aware == list(
        ApiToken.objects.filter(pk=token.pk).values_list("created_at", "expires_at")
    )
