"""After delivery, each publication keeps the exact text its network received: placeholders
filled, call to action and UTM tags applied, a thread's parts in order. The item may be edited
later; what went out does not change with it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from calendar_app.delivery.dispatcher import dispatch_due
from calendar_app.models import PublicationStatus
from tests.api.conftest import token_client
from tests.delivery.conftest import channel, sandbox_posts, scheduled_item

pytestmark = pytest.mark.django_db
P = PublicationStatus


def test_the_text_the_network_received_is_stored_on_the_publication(
    brand, actor, sandbox_dir
) -> None:
    item = scheduled_item(
        brand,
        actor,
        body="Spring is here at {{ brand.name }}",
        cta_text="Shop now",
        cta_url="https://shop.example/spring",
    )
    publication = item.publications.get()
    dispatch_due()
    publication.refresh_from_db()
    assert publication.status == P.PUBLISHED
    received = sandbox_posts(sandbox_dir)[0]["post"]["body"]
    assert publication.sent_text == received
    assert publication.sent_text.startswith(f"Spring is here at {brand.name}")
    assert "\n\nShop now " in publication.sent_text  # the call to action, as linked
    assert "utm_source=sandbox" in publication.sent_text
    # Editing the item afterwards does not rewrite history.
    item.body = "Something else"
    item.save(update_fields=["body"])
    publication.refresh_from_db()
    assert publication.sent_text == received


def test_a_thread_is_stored_part_after_part(brand, actor, sandbox_dir) -> None:
    item = scheduled_item(
        brand,
        actor,
        body="1/3 Kick-off",
        thread=[{"body": "2/3 Half-time", "media": []}, {"body": "3/3 Full time", "media": []}],
    )
    dispatch_due()
    text = item.publications.get().sent_text
    assert text.index("1/3 Kick-off") < text.index("2/3 Half-time") < text.index("3/3 Full time")
    assert "— part 3 of 3 —" in text


def test_nothing_is_stored_when_nothing_went_out(brand, actor) -> None:
    refused = channel(brand, fail_mode="permanent")
    item = scheduled_item(brand, actor, channels=[refused], body="Never sent")
    dispatch_due()
    publication = item.publications.get()
    assert publication.status == P.FAILED and publication.sent_text == ""


def test_the_api_shows_the_text_sent_per_publication(workspace, brand, actor) -> None:
    item = scheduled_item(brand, actor, body="Out there {{ brand.name }}")
    dispatch_due()
    publication = item.publications.get()
    client = token_client(workspace)
    url = reverse(
        "api:publication-detail", kwargs={"workspace_slug": workspace.slug, "pk": publication.pk}
    )
    response = client.get(url)
    assert response.status_code == 200
    assert response.json()["sent_text"] == f"Out there {brand.name}"
