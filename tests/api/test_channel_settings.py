"""A channel's settings and secrets are what its network declares, through the API and the admin:
unknown keys refused (a workspace cannot smuggle in a switch the plugin never offered, such as
reaching private addresses), required ones demanded, types checked, each error on its field."""

from __future__ import annotations

import pytest

from calendar_app.models import Channel
from tests.api.test_bad_input import assert_error_shape, url

pytestmark = pytest.mark.django_db


def create(world, client, **fields):
    payload = {"brand": world["brand"].pk, "handle": "@hook", "network": "webhook", **fields}
    return client.post(url(world, "channel"), payload, format="json")


def test_a_webhook_channel_that_fits_its_schema_is_created(world, client_for) -> None:
    response = create(
        world,
        client_for("admin"),
        settings={"url": "https://hooks.example.com/kairos", "read_timeout": 10},
        secrets={"signing_secret": "whsec_0123456789"},
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("settings", "secrets", "field", "fragment"),
    [
        (
            {"url": "https://h.example", "allow_private_addresses": True},
            None,
            "settings.allow_private_addresses",
            "has no setting 'allow_private_addresses'",
        ),
        ({}, None, "settings.url", "URL is required"),
        ({"url": "ftp://h.example"}, None, "settings.url", "must be an http(s) URL"),
        (
            {"url": "https://h.example", "read_timeout": "soon"},
            None,
            "settings.read_timeout",
            "must be a number",
        ),
        (
            {"url": "https://h.example", "read_timeout": True},
            None,
            "settings.read_timeout",
            "must be a number",
        ),
        ({"url": "https://h.example"}, {"token": "x"}, "secrets.token", "has no secret 'token'"),
        (
            {"url": "https://h.example"},
            {"signing_secret": ""},
            "secrets.signing_secret",
            "is required",
        ),
    ],
)
def test_settings_outside_the_schema_are_refused_on_their_field(
    world, client_for, settings, secrets, field, fragment
) -> None:
    extra = {} if secrets is None else {"secrets": secrets}
    before = Channel.objects.count()
    body = assert_error_shape(create(world, client_for("admin"), settings=settings, **extra), 400)
    assert any(fragment in message for message in body["fields"][field]), body
    assert Channel.objects.count() == before


def test_an_update_is_checked_against_the_stored_settings_too(world, client_for) -> None:
    channel = world["channel"]  # a sandbox channel
    response = client_for("admin").patch(
        url(world, "channel", channel.pk), {"settings": {"audience": "many"}}, format="json"
    )
    body = assert_error_shape(response, 400)
    assert body["fields"]["settings.audience"] == ["Audience must be an integer."]
    response = client_for("admin").patch(
        url(world, "channel", channel.pk), {"settings": {"audience": 50, "seed": 3}}, format="json"
    )
    assert response.status_code == 200, response.content


def test_new_credentials_for_an_expired_channel_reconnect_it_and_release_its_queue(
    world, client_for, django_capture_on_commit_callbacks
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from calendar_app.delivery.held import hold
    from calendar_app.models import ChannelStatus, Publication
    from tests import factories as f

    channel = world["channel"]
    item = f.ContentItemFactory(brand=channel.brand, workspace=channel.workspace)
    later = timezone.now() + timedelta(hours=1)
    Publication.objects.create(
        workspace=channel.workspace,
        content_item=item,
        channel=channel,
        due_at=later,
        next_attempt_at=later,
    )
    waiting = Publication.objects.filter(channel=channel, status="pending")
    hold(channel, "The network refused the token.")
    assert set(waiting.values_list("last_error_code", flat=True)) == {"channel_expired"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for("admin").patch(
            url(world, "channel", channel.pk), {"secrets": {"token": "fresh"}}, format="json"
        )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == ChannelStatus.CONNECTED
    assert set(waiting.values_list("last_error_code", flat=True)) == {"released_after_hold"}
