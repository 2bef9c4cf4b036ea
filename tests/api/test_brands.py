"""Creating brands through the API (docs/api.md, walk-through step 2)."""

from __future__ import annotations

from django.urls import reverse

from calendar_app.models import Brand
from tests.api.conftest import token_client


def test_admin_creates_a_brand_in_the_workspace_of_the_url(workspace, other_workspace):
    """Regression: the brand was saved without its workspace, so every create answered 409
    (a NOT NULL violation mapped to ``conflict``) on a live server and in the test client."""
    client = token_client(workspace)
    url = reverse("api:brand-list", kwargs={"workspace_slug": workspace.slug})
    body = {
        "name": "Crunchy Co",
        "slug": "crunchy",
        "time_zone": "America/New_York",
        "language": "en",
        "profile": {"themes": ["snacks", "sport"], "avoid": ["politics"]},
    }

    response = client.post(url, body, format="json")

    assert response.status_code == 201, response.content
    brand = Brand.objects.get(pk=response.json()["id"])
    assert brand.workspace == workspace
    assert (brand.slug, brand.time_zone) == ("crunchy", "America/New_York")
    # The same slug is free in another workspace, and taken (a field error) in this one.
    other = token_client(other_workspace)
    other_url = reverse("api:brand-list", kwargs={"workspace_slug": other_workspace.slug})
    assert other.post(other_url, body, format="json").status_code == 201
    again = client.post(url, body, format="json")
    assert again.status_code == 400
    assert "slug" in again.json()["fields"]
