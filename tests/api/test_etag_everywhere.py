"""Every resource that can be changed carries an ETag and refuses a stale If-Match with 412,
changing nothing - not only content items and templates (issue 12)."""

from __future__ import annotations

import pytest
from django.forms.models import model_to_dict

from calendar_app.models import Role
from tests.api.conftest import ROUTES, token_client, url_for

UPDATABLE = [c for c in ROUTES if c.action == "partial_update"]


def test_every_changeable_resource_is_covered():
    assert {c.basename for c in UPDATABLE} >= {
        "brand",
        "channel",
        "event",
        "content-item",
        "reactive-template",
        "experiment",
        "variant",
        "posting-slot",
        "evergreen-item",
    }


@pytest.mark.parametrize("case", UPDATABLE, ids=lambda c: c.basename)
def test_stale_if_match_is_refused_and_changes_nothing(case, world):
    client = token_client(world.workspace, Role.ADMIN)
    detail = next(c for c in ROUTES if c.basename == case.basename and c.action == "retrieve")
    url = url_for(detail, world)
    response = client.get(url)
    assert response.status_code == 200, response.content
    etag = response["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    row = world[case.basename]
    before = model_to_dict(type(row).objects.get(pk=row.pk))
    stale = '"0000000000000000000000000000dead"'
    deletable = any(c.basename == case.basename and c.action == "destroy" for c in ROUTES)
    for method in (client.patch, client.delete) if deletable else (client.patch,):
        refused = method(url, {}, format="json", HTTP_IF_MATCH=stale)
        assert refused.status_code == 412, (case.basename, refused.status_code, refused.content)
    assert model_to_dict(type(row).objects.get(pk=row.pk)) == before
