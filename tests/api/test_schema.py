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


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["swagger-ui", "redoc"])
def test_docs_pages_load_their_assets_from_our_own_static_files(client, name):
    """Swagger UI and ReDoc work offline: every script and style comes from /static/ (the
    drf-spectacular-sidecar package), and the files are there."""
    import re

    from django.contrib.staticfiles import finders

    html = client.get(reverse(name)).content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
    assert assets, html[:500]
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), asset
    assert "https://" not in html and "http://" not in html
