"""Collection: incremental by cursor, once per message, calm in the face of a bad network."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calendar_app.listening.collect import collect_all, collect_channel
from calendar_app.models import Message, PublicationStatus, StreamCursor
from publishers import PermanentError, StaleCursor, TransientError
from tests import factories as f
from tests.listening.conftest import item


@pytest.fixture
def channel(brand, scripted):
    return f.ChannelFactory(brand=brand, workspace=brand.workspace, network="scripted")


def test_messages_are_stored_once_whatever_the_repeats(channel, scripted):
    scripted.steps = [
        [item(1), item(2), item(1)],  # a repeat inside a page
        [item(2), item(3)],  # and across pages
    ]
    collect_channel(channel)
    collect_channel(channel)
    assert sorted(Message.objects.values_list("network_id", flat=True)) == ["1", "2", "3"]
    assert scripted.cursors == ["", "c1"]


def test_malformed_items_are_skipped_and_counted(channel, scripted):
    scripted.steps = [[item(1), {"text": "no id"}, item(2, published_at="soon"), "junk", item(3)]]
    result = collect_channel(channel)
    assert result.stored == 2
    cursor = StreamCursor.objects.get(channel=channel, stream="mentions")
    assert cursor.skipped_total == 3
    assert cursor.cursor == "c1"


def test_stale_cursor_starts_over_without_doubling(channel, scripted):
    scripted.steps = [[item(1), item(2)], StaleCursor("expired"), [item(1), item(2), item(3)]]
    collect_channel(channel)
    collect_channel(channel)
    assert Message.objects.count() == 3
    assert scripted.cursors == ["", "c1", ""]
    assert StreamCursor.objects.get(channel=channel).restarts == 1


def test_rate_limit_waits_before_asking_again(channel, scripted):
    now = timezone.now()
    scripted.steps = [TransientError("slow down", retry_after=600), [item(1)]]
    collect_channel(channel, now)
    collect_channel(channel, now + timedelta(minutes=5))
    assert scripted.cursors == [""], "asked again before retry_after"
    collect_channel(channel, now + timedelta(minutes=11))
    assert Message.objects.count() == 1


@pytest.mark.parametrize("error", [PermanentError("no"), RuntimeError("plugin bug")])
def test_a_failing_network_loses_nothing(channel, scripted, error):
    scripted.steps = [[item(1)], error, [item(2)]]
    collect_channel(channel)
    collect_channel(channel)
    cursor = StreamCursor.objects.get(channel=channel)
    assert cursor.cursor == "c1" and cursor.last_error
    collect_channel(channel)
    assert Message.objects.count() == 2


def test_nul_and_unknown_language_are_kept(channel, scripted):
    scripted.steps = [[item(1, "Meine acme\x00 Bestellung ist kaputt", language="de")]]
    collect_channel(channel)
    message = Message.objects.get()
    assert "\x00" not in message.text
    assert message.method == "unsupported-language"
    assert message.tone == "neutral"


def test_watch_terms_link_mentions(channel, scripted):
    watch = f.WatchFactory(brand=channel.brand, workspace=channel.workspace, terms=["#AcmeDay"])
    scripted.steps = [[item(1, "So happy on #acmeday"), item(2, "unrelated")]]
    collect_channel(channel)
    assert list(Message.objects.filter(watch=watch).values_list("network_id", flat=True)) == ["1"]


def test_sandbox_replies_link_publication_and_variant(brand, sandbox_dir):
    channel = f.ChannelFactory(brand=brand, workspace=brand.workspace, settings={"seed": 3})
    experiment = f.ExperimentFactory(brand=brand, workspace=brand.workspace)
    variant = f.VariantFactory(experiment=experiment)
    publications = []
    from calendar_app.plugins_runtime import get_plugins
    from plugins.sandbox.network import SandboxNetwork
    from publishers import ChannelContext, Post

    day_ago = timezone.now() - timedelta(days=1)
    network = SandboxNetwork(clock=lambda: day_ago)
    context = ChannelContext(id=str(channel.pk), network="sandbox", handle=channel.handle)
    for n in range(4):
        sent = network.publish(Post(body=f"post {n}"), context, f"key-{n}")
        publications.append(
            f.PublicationFactory(
                content_item__brand=brand,
                content_item__workspace=brand.workspace,
                channel=channel,
                variant=variant,
                status=PublicationStatus.PUBLISHED,
                external_id=sent.external_id,
                published_at=sent.published_at,
            )
        )
    later = timezone.now()
    collect_channel(channel, later)
    assert get_plugins().network("sandbox")
    replies = Message.objects.filter(kind="reply")
    assert replies.exists()
    assert all(r.publication_id and r.variant_id == variant.pk for r in replies)
    again = collect_channel(channel, later)
    assert sum(s.stored for s in again.streams if s.stream == "replies") == 0


def test_collect_all_isolates_channels(brand, scripted, sandbox_dir):
    f.ChannelFactory(brand=brand, workspace=brand.workspace, network="scripted")
    f.ChannelFactory(brand=brand, workspace=brand.workspace, network="not-installed")
    scripted.steps = [RuntimeError("boom")]
    f.ChannelFactory(brand=brand, workspace=brand.workspace)  # sandbox: mentions arrive
    assert collect_all() > 0
