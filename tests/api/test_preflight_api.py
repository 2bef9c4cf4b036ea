"""The API refuses a step a network would refuse, with the field and the channel named."""

from __future__ import annotations

import pytest

from calendar_app.models import ContentStatus

pytestmark = pytest.mark.django_db


def test_the_api_answers_with_the_field_and_the_channel(world, client_for) -> None:
    from django.urls import reverse

    item = world["content-item"]
    item.status = ContentStatus.DRAFT
    item.body = "z" * 6000
    item.save()
    response = client_for("admin").post(
        reverse(
            "api:content-item-submit",
            kwargs={"workspace_slug": world.workspace.slug, "pk": item.pk},
        ),
        {},
        format="json",
    )
    assert response.status_code in (400, 409), response.content
    body = response.json()
    assert body["code"] == "not_deliverable"
    assert "The text is 6000 characters" in body["fields"]["body"][0]
