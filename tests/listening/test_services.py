"""Corrections that stick, retention and purge, and a reply that goes out as a reply."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calendar_app.delivery import build_post
from calendar_app.listening import services
from calendar_app.listening.collect import store
from calendar_app.models import ContentItem, ListeningPolicy, Message
from calendar_app.workflow import Actor
from publishers import InboundMessage
from tests import factories as f


def test_a_correction_survives_the_message_coming_again(brand, actor):
    message = f.MessageFactory(channel__brand=brand, channel__workspace=brand.workspace)
    services.correct(message, actor(), category="question", tone="negative")
    again = InboundMessage(
        message.network_id, "Love acme!", message.author_handle, message.published_at
    )
    assert store(message.channel, [again], "mention") == 0
    message.refresh_from_db()
    assert (message.category, message.tone) == ("question", "negative")
    assert message.corrected_at is not None and message.method == "corrected by a person"


def test_retention_per_workspace(brand, other_workspace):
    now = timezone.now()
    channel = f.ChannelFactory(brand=brand, workspace=brand.workspace)
    ListeningPolicy.objects.create(workspace=brand.workspace, retention_days=30)
    f.MessageFactory(channel=channel, published_at=now - timedelta(days=31))
    kept = f.MessageFactory(channel=channel, published_at=now - timedelta(days=29))
    theirs = f.ChannelFactory(brand=f.BrandFactory(workspace=other_workspace))
    default_kept = f.MessageFactory(channel=theirs, published_at=now - timedelta(days=31))
    f.MessageFactory(channel=theirs, published_at=now - timedelta(days=181))
    assert services.purge_expired(now) == 2
    assert set(Message.objects.values_list("pk", flat=True)) == {kept.pk, default_kept.pk}


def test_purge_stays_in_the_workspace(brand, other_workspace):
    mine = f.MessageFactory(
        channel__brand=brand, channel__workspace=brand.workspace, author_handle="@ana"
    )
    theirs = f.MessageFactory(
        channel__brand=f.BrandFactory(workspace=other_workspace),
        channel__workspace=other_workspace,
        author_handle="@ana",
    )
    assert services.purge_author(brand.workspace_id, "ana", Actor.system()) == 1
    assert not Message.objects.filter(pk=mine.pk).exists()
    assert Message.objects.filter(pk=theirs.pk).exists()


def test_reply_goes_out_as_a_reply_to_the_message(brand, actor):
    message = f.MessageFactory(
        channel__brand=brand,
        channel__workspace=brand.workspace,
        network_id="at://did:plc:x/app.bsky.feed.post/3k",
        url="https://bsky.app/profile/x/post/3k",
        extra={"cid": "bafy-parent", "root_id": "at://did:plc:y/post/1", "root_cid": "bafy-root"},
    )
    item = services.draft_reply(message, actor(), "Sorry about that, DM us.")
    publication = f.PublicationFactory(content_item=item, channel=message.channel)
    post = build_post(publication)
    assert post.reply_to.parent.external_id == message.network_id
    assert dict(post.reply_to.parent.extra) == {"cid": "bafy-parent"}
    assert post.reply_to.root.external_id == "at://did:plc:y/post/1"
    assert dict(post.reply_to.root.extra) == {"cid": "bafy-root"}
    plain = f.MessageFactory(channel=message.channel, url="sandbox://c/x")
    post = build_post(
        f.PublicationFactory(
            content_item=services.draft_reply(plain, actor(), "Thanks!"), channel=plain.channel
        )
    )
    assert post.reply_to.root == post.reply_to.parent
    assert post.reply_to.parent.url == ""


def test_moment_live_page_shows_the_conversation(brand):
    from calendar_app.moments import services as moments

    moment = f.MomentFactory(
        brand=brand, workspace=brand.workspace, starts_at=timezone.now() - timedelta(hours=1)
    )
    channel = f.ChannelFactory(brand=brand, workspace=brand.workspace)
    f.MessageFactory(channel=channel, text="Before", published_at=moment.starts_at - timedelta(1))
    f.MessageFactory(channel=channel, text="Worst ad ever", tone="negative", category="complaint")
    f.MessageFactory(channel__brand=f.BrandFactory(workspace=brand.workspace), text="Other brand")
    talk = moments.live(moment)["conversation"]
    assert talk["count"] == 1 and talk["by_tone"]["negative"] == 1
    assert [m["text"] for m in talk["latest"]] == ["Worst ad ever"]


def test_command_runs_each_schedule(brand, sandbox_dir):
    from io import StringIO

    from django.core.management import call_command

    f.ChannelFactory(brand=brand, workspace=brand.workspace, handle="acme")
    out = StringIO()
    for job in ("collect", "surges", "purge-expired"):
        call_command("listening", job, stdout=out)
    assert "new messages stored" in out.getvalue()
    assert Message.objects.exists()


def test_a_newsletter_reply_is_refused_before_it_could_reach_the_whole_list(brand, actor):
    """The attack: "Reply to ana@..." drafted on an email channel would be approved and sent
    as a newsletter to every subscriber. It is refused with a field-level message."""
    channel = f.ChannelFactory(brand=brand, workspace=brand.workspace, network="email")
    message = f.MessageFactory(channel=channel, kind="reply", author_handle="ana@example.com")
    with pytest.raises(services.ListeningError) as refused:
        services.draft_reply(message, actor(), "Thanks Ana!")
    assert (refused.value.code, refused.value.field) == ("not_supported", "message")
    assert not ContentItem.objects.filter(in_reply_to=message).exists()
