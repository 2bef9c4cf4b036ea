"""Delivering publications: exactly once, never lost, every outcome classified and recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calendar_app import delivery, tasks, workflow
from calendar_app.delivery import claims
from calendar_app.delivery.dispatcher import dispatch_due
from calendar_app.models import (
    AttemptOutcome,
    ChannelStatus,
    ContentStatus,
    LatenessPolicy,
    Publication,
    PublicationStatus,
    Role,
)
from calendar_app.workflow import Actor
from publishers import Capabilities, Network, TransientError, hookimpl
from tests import factories as f
from tests.delivery.conftest import channel, claimed_by, sandbox_posts, scheduled_item

pytestmark = pytest.mark.django_db
P = PublicationStatus


def test_due_publication_is_delivered_once_and_the_item_follows(brand, actor, sandbox_dir) -> None:
    item = scheduled_item(brand, actor)
    publication = item.publications.get()
    assert dispatch_due() == 1  # one wake-up; sync django-q2 delivers inline
    publication.refresh_from_db()
    assert publication.status == P.PUBLISHED
    assert publication.external_id.startswith("sb_")
    assert publication.attempts == 1
    assert publication.attempt_log.get().outcome == AttemptOutcome.PUBLISHED
    item.refresh_from_db()
    assert item.status == ContentStatus.PUBLISHED
    last = item.transitions.last()
    assert (last.action, last.from_status, last.to_status) == ("settle", "scheduled", "published")
    posts = sandbox_posts(sandbox_dir)
    assert len(posts) == 1
    assert posts[0]["idempotency_key"] == publication.idempotency_key
    # A duplicate task, a redelivery or a second dispatcher tick changes nothing.
    assert delivery.deliver_publication(publication.pk) is None
    assert dispatch_due() == 0
    assert len(sandbox_posts(sandbox_dir)) == 1


def test_future_publication_is_not_claimed(brand, actor) -> None:
    item = scheduled_item(brand, actor, when=timezone.now() + timedelta(hours=1))
    publication = item.publications.get()
    assert dispatch_due() == 0
    assert claimed_by("w1", publication) is None


def test_only_one_of_two_racing_workers_claims(brand, actor) -> None:
    publication = scheduled_item(brand, actor).publications.get()
    first = claimed_by("w1", publication)
    second = claimed_by("w2", publication)
    assert first is not None and second is None
    assert Publication.objects.get(pk=publication.pk).claimed_by == "w1"


def test_crashed_worker_claim_is_recovered_and_reconciled_without_a_second_post(
    brand, actor, sandbox_dir
) -> None:
    publication = scheduled_item(brand, actor).publications.get()
    claimed = claimed_by("dead-worker", publication, started=True)
    # The worker posted, then died before recording anything.
    from calendar_app.plugins_runtime import get_plugins

    network = get_plugins().network("sandbox")
    network.publish(
        delivery.build_post(claimed),
        delivery.channel_context(claimed.channel),
        claimed.idempotency_key,
    )
    later = timezone.now() + claims.claim_ttl() + timedelta(seconds=1)
    assert delivery.recover_lapsed_claims(now=later) == 1
    publication.refresh_from_db()
    assert publication.status == P.PENDING and publication.needs_reconcile
    Publication.objects.filter(pk=publication.pk).update(next_attempt_at=timezone.now())
    report = delivery.deliver_publication(publication.pk)
    assert report.outcome == AttemptOutcome.RECONCILED
    assert len(sandbox_posts(sandbox_dir)) == 1
    publication.refresh_from_db()
    assert publication.status == P.PUBLISHED and not publication.needs_reconcile


def test_transient_failure_backs_off_then_succeeds(brand, actor, sandbox_dir) -> None:
    item = scheduled_item(
        brand, actor, channels=[channel(brand, fail_mode="transient", fail_times=1)]
    )
    publication = item.publications.get()
    before = timezone.now()
    dispatch_due()
    publication.refresh_from_db()
    assert publication.status == P.PENDING
    assert publication.last_error_code == "sandbox_unavailable"
    assert publication.next_attempt_at >= before
    Publication.objects.filter(pk=publication.pk).update(next_attempt_at=timezone.now())
    dispatch_due()
    publication.refresh_from_db()
    assert publication.status == P.PUBLISHED
    assert [a.outcome for a in publication.attempt_log.all()] == [
        AttemptOutcome.RETRY,
        AttemptOutcome.PUBLISHED,
    ]
    assert len(sandbox_posts(sandbox_dir)) == 1


def test_retry_after_is_a_floor(brand, actor) -> None:
    item = scheduled_item(
        brand, actor, channels=[channel(brand, fail_mode="transient", retry_after=600)]
    )
    dispatch_due()
    publication = item.publications.get()
    assert publication.next_attempt_at >= timezone.now() + timedelta(seconds=590)


def test_gives_up_after_the_maximum_attempts(brand, actor) -> None:
    item = scheduled_item(brand, actor, channels=[channel(brand, fail_mode="transient")])
    publication = item.publications.get()
    for _ in range(20):
        Publication.objects.filter(pk=publication.pk, status=P.PENDING).update(
            next_attempt_at=timezone.now()
        )
        if not dispatch_due():
            break
    publication.refresh_from_db()
    assert publication.status == P.FAILED
    assert publication.last_error_reason.startswith("Gave up after 8 attempts")
    item.refresh_from_db()
    assert item.status == ContentStatus.FAILED


def test_permanent_failure_fails_with_a_readable_reason(brand, actor) -> None:
    ok, refused = channel(brand), channel(brand, fail_mode="permanent")
    item = scheduled_item(brand, actor, channels=[ok, refused])
    dispatch_due()
    statuses = dict(item.publications.values_list("channel_id", "status"))
    assert statuses == {ok.pk: P.PUBLISHED, refused.pk: P.FAILED}
    failed = item.publications.get(channel=refused)
    assert "refused the post" in failed.last_error_reason
    item.refresh_from_db()
    assert item.status == ContentStatus.PARTLY_FAILED


def test_expired_credentials_hold_the_channel_s_queue_until_it_is_reconnected(
    brand, actor, django_capture_on_commit_callbacks, sandbox_dir
) -> None:
    expiring = channel(brand, fail_mode="expired")
    first = scheduled_item(brand, actor, channels=[expiring])
    waiting = scheduled_item(
        brand, actor, channels=[expiring], when=timezone.now() + timedelta(hours=2)
    )
    dispatch_due()
    expiring.refresh_from_db()
    assert expiring.status == ChannelStatus.EXPIRED
    held_now, held_later = first.publications.get(), waiting.publications.get()
    for publication in (held_now, held_later):
        assert publication.status == P.PENDING and publication.last_error_code == "channel_expired"
        assert "Reconnect the channel" in publication.last_error_reason
    assert dispatch_due() == 0, "held work wakes nobody"
    assert held_now.attempt_log.get().outcome == AttemptOutcome.CREDENTIALS_EXPIRED
    # Someone reconnects the channel (here: the scripted failure removed, status connected).
    expiring.settings = {}
    expiring.status = ChannelStatus.CONNECTED
    with django_capture_on_commit_callbacks(execute=True):
        expiring.save()
    dispatch_due()
    held_now.refresh_from_db()
    assert held_now.status == P.PUBLISHED and len(sandbox_posts(sandbox_dir)) == 1
    assert Publication.objects.get(pk=held_later.pk).status == P.PENDING  # its time is later


def test_a_publication_held_past_its_moment_follows_its_lateness_policy(
    brand, actor, django_capture_on_commit_callbacks
) -> None:
    expiring = channel(brand, fail_mode="expired")
    item = scheduled_item(brand, actor, channels=[expiring], lateness_policy="skip")
    dispatch_due()
    publication = item.publications.get()
    Publication.objects.filter(pk=publication.pk).update(
        due_at=timezone.now() - timedelta(hours=3), next_attempt_at=timezone.now()
    )
    expiring.settings = {}
    expiring.status = ChannelStatus.CONNECTED
    with django_capture_on_commit_callbacks(execute=True):
        expiring.save()
    dispatch_due()
    publication.refresh_from_db()
    assert publication.status == P.SKIPPED and publication.last_error_code == "moment_passed"


def test_plugin_crash_fails_and_is_never_retried_automatically(brand, actor) -> None:
    item = scheduled_item(brand, actor, channels=[channel(brand, fail_mode="crash")])
    dispatch_due()
    publication = item.publications.get()
    assert publication.status == P.FAILED
    assert publication.last_error_code == "plugin_error"
    assert publication.attempts == 1


class BlindNetwork(Network):
    """A network that neither deduplicates nor can be searched, and times out after sending."""

    key = "blind"
    display_name = "Blind"
    capabilities = Capabilities(max_text_length=500, metrics=("impressions",))
    sent: list[str] = []

    def validate(self, post, channel):
        return []

    def publish(self, post, channel, idempotency_key):
        self.sent.append(idempotency_key)
        raise TransientError("Read timed out after sending.", code="timeout", may_have_posted=True)

    def fetch_metrics(self, ref, channel):
        raise NotImplementedError


class BlindPlugin:
    @hookimpl
    def register_networks(self):
        return [BlindNetwork()]


def test_ambiguous_timeout_without_idempotency_goes_unconfirmed(brand, actor, plugins_with) -> None:
    plugins_with(("blind", BlindPlugin()))
    blind = f.ChannelFactory(brand=brand, workspace=brand.workspace, network="blind")
    item = scheduled_item(brand, actor, channels=[blind])
    BlindNetwork.sent.clear()
    dispatch_due()
    publication = item.publications.get()
    assert publication.status == P.UNCONFIRMED
    assert "may have gone out" in publication.last_error_reason
    assert dispatch_due() == 0
    assert len(BlindNetwork.sent) == 1
    # A person checks the network and says what they found.
    approver = actor(Role.APPROVER)
    with pytest.raises(delivery.DeliveryActionError, match="Check the network"):
        delivery.retry_publication(publication, approver)
    delivery.retry_publication(publication, approver, resolved_unconfirmed="posted")
    publication.refresh_from_db()
    assert publication.status == P.PUBLISHED
    assert len(BlindNetwork.sent) == 1


def test_overdue_reaction_is_skipped_and_evergreen_post_goes_late(
    brand, actor, sandbox_dir
) -> None:
    two_hours_ago = timezone.now() - timedelta(hours=2)
    live = scheduled_item(brand, actor, when=two_hours_ago, lateness_policy=LatenessPolicy.SKIP)
    evergreen = scheduled_item(
        brand, actor, when=two_hours_ago, lateness_policy=LatenessPolicy.SEND_LATE
    )
    dispatch_due()
    skipped = live.publications.get()
    assert skipped.status == P.SKIPPED and "overdue" in skipped.last_error_reason
    sent = evergreen.publications.get()
    assert sent.status == P.PUBLISHED and sent.delivered_late
    assert len(sandbox_posts(sandbox_dir)) == 1


def test_retry_of_a_failed_publication_needs_an_approver(brand, actor) -> None:
    refused = channel(brand, fail_mode="permanent")
    item = scheduled_item(brand, actor, channels=[refused])
    dispatch_due()
    publication = item.publications.get()
    with pytest.raises(delivery.DeliveryActionError, match="approver"):
        delivery.retry_publication(publication, actor(Role.EDITOR))
    refused.settings = {}
    refused.save()
    delivery.retry_publication(publication, actor(Role.APPROVER))
    item.refresh_from_db()
    assert item.status == ContentStatus.PUBLISHING
    dispatch_due()
    publication.refresh_from_db()
    item.refresh_from_db()
    assert publication.status == P.PUBLISHED
    assert item.status == ContentStatus.PUBLISHED


def test_disabled_channel_fails_without_calling_the_network(brand, actor, sandbox_dir) -> None:
    target = channel(brand)
    item = scheduled_item(brand, actor, channels=[target])
    target.set_status(ChannelStatus.DISABLED)
    dispatch_due()
    publication = item.publications.get()
    assert publication.status == P.FAILED and publication.last_error_code == "channel_disabled"
    assert sandbox_posts(sandbox_dir) == []


def test_variant_cta_goes_out_with_utm_tags(brand, actor, sandbox_dir) -> None:
    experiment = f.ExperimentFactory(brand=brand, workspace=brand.workspace)
    f.VariantFactory(
        experiment=experiment,
        key="control",
        is_control=True,
        cta_text="Shop",
        cta_url="https://ex.com/a",
    )
    item = scheduled_item(brand, actor, experiment=experiment)
    dispatch_due()
    post = sandbox_posts(sandbox_dir)[0]["post"]
    assert post["variant_key"] == "control"
    assert post["cta"]["text"] == "Shop"
    assert "utm_content=control" in post["body"] or "utm_content=control" in post["cta"]["url"]
    assert item.publications.get().variant.key == "control"


def test_actor_system_label_in_settle(brand, actor) -> None:
    item = scheduled_item(brand, actor)
    dispatch_due()
    assert item.transitions.filter(action="settle").get().actor_label == "system"
    assert Actor.system().is_system


def test_rescheduling_leaves_a_wake_up_already_in_the_broker_harmless(
    brand, actor, sandbox_dir
) -> None:
    item = scheduled_item(brand, actor)
    publication = item.publications.get()
    later = timezone.now() + timedelta(hours=1)
    workflow.reschedule(item, actor(Role.EDITOR), later)
    # The wake-up sent for the old time (a fire's or a retry's) runs now: nothing happens.
    assert tasks.deliver_many([publication.pk]) == {"not-claimed": 1}
    assert tasks.drain() == {}
    publication.refresh_from_db()
    assert (publication.status, publication.due_at) == (P.PENDING, later)
    Publication.objects.filter(pk=publication.pk).update(next_attempt_at=timezone.now())
    dispatch_due()
    assert len(sandbox_posts(sandbox_dir)) == 1


def test_cancelling_stops_a_publication_whose_wake_up_is_in_the_broker(
    brand, actor, sandbox_dir
) -> None:
    item = scheduled_item(brand, actor)
    publication = item.publications.get()
    workflow.cancel(item, actor(Role.EDITOR))
    assert tasks.deliver(publication.pk) == "not-claimed"
    assert delivery.deliver_publication(publication.pk) is None
    assert sandbox_posts(sandbox_dir) == []
    publication.refresh_from_db()
    assert publication.status == P.CANCELLED
