"""The OpenAPI schema is valid and warning-free, and the docs pages are served."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse


def test_spectacular_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(out),
        stdout=StringIO(),
        stderr=StringIO(),
    )
    text = out.read_text()
    assert "/api/v1/workspaces/{workspace_slug}/content-items/{id}/approve/" in text
    assert "tokenAuth" in text


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["schema", "swagger-ui", "redoc"])
def test_docs_pages_are_served(client, name):
    assert client.get(reverse(name)).status_code == 200
