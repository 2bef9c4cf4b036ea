"""A thread with stored media, delivered by the host: parts in order, each remembered in the
publication, so retries continue and a deleted medium fails the post with a clear reason."""

from __future__ import annotations

import pytest
from django.utils import timezone

from calendar_app.delivery.dispatcher import dispatch_due
from calendar_app.delivery.posts import build_post, publication_ref
from calendar_app.models import AttemptOutcome, Publication, PublicationStatus
from tests import factories as f
from tests.delivery.conftest import channel, sandbox_posts, scheduled_item

pytestmark = pytest.mark.django_db
P = PublicationStatus


def thread_item(brand, actor, target, asset):
    return scheduled_item(
        brand,
        actor,
        channels=[target],
        body="1/3 Kick-off",
        media=[{"asset": asset.pk, "alt_text": "The pitch"}],
        thread=[{"body": "2/3 Half-time", "media": []}, {"body": "3/3 Full time", "media": []}],
    )


def test_a_thread_goes_out_in_order_with_its_stored_medium(brand, actor, sandbox_dir) -> None:
    asset = f.MediaAssetFactory(workspace=brand.workspace)
    item = thread_item(brand, actor, channel(brand), asset)
    publication = item.publications.get()
    assert dispatch_due() == 1
    publication.refresh_from_db()
    assert publication.status == P.PUBLISHED
    posts = sandbox_posts(sandbox_dir)
    assert [p["post"]["body"].split("\n")[0] for p in posts] == [
        "1/3 Kick-off",
        "2/3 Half-time",
        "3/3 Full time",
    ]
    first, second, third = (p["post"] for p in posts)
    medium = first["media"][0]
    assert medium["url"].endswith(f"/m/{asset.token}") and medium["mime_type"] == "image/png"
    assert (medium["alt_text"], medium["sha256"]) == ("The pitch", asset.sha256)
    assert second["reply_to"]["parent"]["external_id"] == posts[0]["external_id"]
    assert third["reply_to"]["parent"]["external_id"] == posts[1]["external_id"]
    assert third["reply_to"]["root"]["external_id"] == posts[0]["external_id"]
    assert publication.external_id == posts[0]["external_id"]
    ref = publication_ref(publication)
    assert [r.external_id for r in ref.thread] == [p["external_id"] for p in posts[1:]]


def test_retries_continue_the_thread_and_never_repost_a_part(brand, actor, sandbox_dir) -> None:
    # Every part fails once before it goes through: four attempts, three posts, no repeat.
    flaky = channel(brand, fail_mode="transient", fail_times=1)
    item = thread_item(brand, actor, flaky, f.MediaAssetFactory(workspace=brand.workspace))
    publication = item.publications.get()
    for _ in range(4):
        Publication.objects.filter(pk=publication.pk).update(next_attempt_at=timezone.now())
        dispatch_due()
    publication.refresh_from_db()
    assert publication.status == P.PUBLISHED and publication.attempts == 4
    keys = [p["idempotency_key"] for p in sandbox_posts(sandbox_dir)]
    base = publication.idempotency_key
    assert keys == [base, f"{base}.2", f"{base}.3"]
    assert sorted(publication.progress["parts"], key=int) == ["0", "1", "2"]
    outcomes = list(publication.attempt_log.order_by("number").values_list("outcome", flat=True))
    assert outcomes == [AttemptOutcome.RETRY] * 3 + [AttemptOutcome.PUBLISHED]
    reasons = list(publication.attempt_log.order_by("number").values_list("reason", flat=True))
    assert reasons[1].startswith("Parts 1-1 of 3 of the thread are out")


def test_a_medium_deleted_after_approval_fails_the_post_saying_which(brand, actor) -> None:
    asset = f.MediaAssetFactory(workspace=brand.workspace)
    item = thread_item(brand, actor, channel(brand), asset)
    publication = item.publications.get()
    missing = asset.pk
    asset.delete()
    assert dispatch_due() == 1
    publication.refresh_from_db()
    assert publication.status == P.FAILED and publication.last_error_code == "unknown_media"
    assert f"Medium {missing} no longer exists" in publication.last_error_reason


def test_items_written_before_media_refs_still_build(brand, actor) -> None:
    item = scheduled_item(brand, actor, media=["https://cdn.example/pic.jpg"])
    post = build_post(item.publications.get())
    assert post.media[0].url == "https://cdn.example/pic.jpg"
    assert post.media[0].mime_type == "image/jpeg" and post.thread == ()
