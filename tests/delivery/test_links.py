"""Security review, item 4: a link a network returns is stored and shown only when it is a plain
http(s) URL - never ``javascript:`` or ``data:``, which the admin and integrators would render."""

from __future__ import annotations

import pytest

from calendar_app.admin.delivery import PublicationAdmin
from calendar_app.delivery.dispatcher import dispatch_due
from calendar_app.delivery.links import safe_link
from calendar_app.models import Publication, PublicationStatus
from publishers import Capabilities, MetricSnapshot, Network, PublishResult, hookimpl
from tests import factories as f
from tests.delivery.conftest import scheduled_item

pytestmark = pytest.mark.django_db


def returning(url: str):
    class Hostile(Network):
        key = "hostile"
        display_name = "Hostile"
        capabilities = Capabilities()

        def validate(self, post, channel):
            return []

        def publish(self, post, channel, idempotency_key):
            return PublishResult("1", url=url)

        def fetch_metrics(self, ref, channel):
            return MetricSnapshot()

    class Plugin:
        @hookimpl
        def register_networks(self):
            return [Hostile()]

    return ("hostile", Plugin())


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        'https://x.example/"><script>alert(1)</script>',
        "//evil.example/path",
        "https://x.example/" + "a" * 2000,
    ],
)
def test_a_hostile_post_link_is_dropped_and_the_post_still_recorded(
    url, plugins_with, brand, actor
) -> None:
    plugins_with(returning(url))
    channel = f.ChannelFactory(brand=brand, workspace=brand.workspace, network="hostile")
    publication = scheduled_item(brand, actor, channels=[channel]).publications.get()
    dispatch_due()
    publication.refresh_from_db()
    assert publication.status == PublicationStatus.PUBLISHED
    assert publication.external_id == "1" and publication.external_url == ""


def test_the_admin_never_links_a_stored_hostile_url(brand) -> None:
    item = f.ContentItemFactory(brand=brand, workspace=brand.workspace)
    publication = f.PublicationFactory(content_item=item, workspace=brand.workspace)
    Publication.objects.filter(pk=publication.pk).update(external_url="javascript:alert(1)")
    publication.refresh_from_db()
    admin = PublicationAdmin(Publication, None)
    assert admin.link(publication) == "—"


def test_plain_links_are_kept() -> None:
    assert safe_link("https://mastodon.social/@brand/1") == "https://mastodon.social/@brand/1"
    assert safe_link("http://127.0.0.1:8000/x?y=1#z") == "http://127.0.0.1:8000/x?y=1#z"
    assert safe_link(None) == "" and safe_link("file:///etc/passwd") == ""
