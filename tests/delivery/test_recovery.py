"""Nothing lost, nothing stuck: leases, recovery by state, batches that survive one bad row, and
final states that say when a post may be live."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.test import override_settings
from django.utils import timezone

from calendar_app import tasks
from calendar_app.delivery import attempt, claims, runner
from calendar_app.delivery.dispatcher import dispatch_due
from calendar_app.models import AttemptOutcome, ContentStatus, Publication, PublicationStatus
from publishers.testing import FakeServer, Reply
from tests import factories as f
from tests.delivery.conftest import channel, claimed_by, sandbox_posts, scheduled_item

pytestmark = pytest.mark.django_db
P = PublicationStatus


def lapse(seconds: float = 1) -> timezone.datetime:
    return timezone.now() + claims.claim_ttl() + timedelta(seconds=seconds)


def test_a_claim_not_yet_attempted_goes_back_as_it_was(brand, actor) -> None:
    publication = scheduled_item(brand, actor).publications.get()
    assert claimed_by("killed-before-sending", publication) is not None
    assert claims.recover_lapsed_claims(now=lapse()) == 1
    publication.refresh_from_db()
    assert publication.status == P.PENDING
    assert (publication.attempts, publication.may_have_posted, publication.needs_reconcile) == (
        0,
        False,
        False,
    )


def test_a_claim_whose_attempt_started_is_flagged_and_counted(brand, actor) -> None:
    publication = scheduled_item(brand, actor).publications.get()
    claimed_by("killed-mid-attempt", publication, started=True)
    assert claims.recover_lapsed_claims(now=timezone.now()) == 0, "the lease still runs"
    assert claims.recover_lapsed_claims(now=lapse()) == 1
    publication.refresh_from_db()
    assert publication.status == P.PENDING and publication.attempts == 1
    assert publication.may_have_posted and publication.needs_reconcile
    assert publication.attempt_log.get().outcome == AttemptOutcome.UNCONFIRMED
    # The next attempt numbers itself after the lost one and reconciles first.
    report = tasks.deliver(publication.pk)
    assert report == AttemptOutcome.PUBLISHED
    assert list(publication.attempt_log.values_list("number", flat=True)) == [1, 2]


@override_settings(KAIROS_RETRY_MAX_ATTEMPTS=2)
def test_a_post_that_kills_its_worker_every_time_ends_unconfirmed(brand, actor) -> None:
    item = scheduled_item(brand, actor)
    publication = item.publications.get()
    for _ in range(2):
        Publication.objects.filter(pk=publication.pk).update(next_attempt_at=timezone.now())
        claimed_by("killed-again", publication, started=True)
        claims.recover_lapsed_claims(now=lapse())
    publication.refresh_from_db()
    assert publication.status == P.UNCONFIRMED and publication.last_error_code == "worker_lost"
    item.refresh_from_db()
    assert item.status == ContentStatus.FAILED


def test_a_renewed_lease_is_not_recovered(brand, actor) -> None:
    publication = scheduled_item(brand, actor).publications.get()
    claimed_by("alive", publication, started=True)
    keeper = claims.LeaseKeeper("alive", ttl=60)
    assert keeper.renew() == 1
    assert claims.recover_lapsed_claims(now=lapse()) == 0
    assert Publication.objects.get(pk=publication.pk).status == P.PUBLISHING


def test_a_keeper_past_its_hold_limit_stops_renewing_so_recovery_takes_over(brand, actor) -> None:
    # A worker whose delivery thread hangs while its lease thread lives must not keep the row
    # publishing for ever: renewal ends with the task time-out.
    publication = scheduled_item(brand, actor).publications.get()
    claimed_by("hung", publication, started=True)
    assert claims.LeaseKeeper("hung", ttl=60, hold_limit=0).renew() == 0
    assert claims.recover_lapsed_claims(now=lapse()) == 1
    assert Publication.objects.get(pk=publication.pk).status == P.PENDING


def test_the_hold_limit_is_the_task_time_out(settings) -> None:
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 45}
    assert claims.LeaseKeeper("x").hold_limit == 45


def test_an_attempt_never_starts_on_a_claim_that_lapsed_and_went_to_another_worker(
    brand, actor, sandbox_dir
) -> None:
    # The slow worker claimed the row, then stalled (a database restart) past its lease;
    # recovery gave the row to another worker. The slow one must not send it as well.
    publication = scheduled_item(brand, actor).publications.get()
    slow = claimed_by("slow", publication)
    assert claims.recover_lapsed_claims(now=lapse()) == 1
    assert claimed_by("other", publication) is not None

    report = attempt.deliver_claimed(slow, worker="slow")

    assert report.outcome == attempt.CLAIM_LOST
    assert not publication.attempt_log.exists()
    assert sandbox_posts(sandbox_dir) == []
    row = Publication.objects.get(pk=publication.pk)
    assert (row.status, row.claimed_by, row.attempts) == (P.PUBLISHING, "other", 0)


def test_an_attempt_starts_with_a_full_lease_ahead(brand, actor) -> None:
    publication = scheduled_item(brand, actor).publications.get()
    claimed = claimed_by("worker", publication)
    Publication.objects.filter(pk=publication.pk).update(claim_expires_at=timezone.now())
    opened = attempt.start_attempt(claimed, "worker", timezone.now())
    assert opened is not None and opened.number == 1
    row = Publication.objects.get(pk=publication.pk)
    assert row.claim_expires_at > timezone.now() + claims.claim_ttl() - timedelta(seconds=5)


def test_one_bad_publication_does_not_drop_its_batch_mates(
    brand, actor, monkeypatch, sandbox_dir
) -> None:
    items = [scheduled_item(brand, actor) for _ in range(5)]
    doomed = items[2].publications.get()
    real = attempt.build_post

    def build_post(publication):
        if publication.pk == doomed.pk:
            raise RuntimeError("a bug that only this post triggers")
        return real(publication)

    monkeypatch.setattr(attempt, "build_post", build_post)
    outcomes = runner.drain()
    assert outcomes == {"published": 4, "internal_error": 1}
    assert len(sandbox_posts(sandbox_dir)) == 4
    doomed.refresh_from_db()
    # The attempt had started, so nobody can say whether the post went out.
    assert doomed.status == P.UNCONFIRMED and doomed.last_error_code == "internal_error"


def test_a_database_error_on_one_row_leaves_it_to_recovery_and_the_batch_goes_on(
    brand, actor, monkeypatch, sandbox_dir
) -> None:
    items = [scheduled_item(brand, actor) for _ in range(3)]
    unlucky = items[0].publications.get()
    real = attempt.record

    def record(publication, *args, **kwargs):
        if publication.pk == unlucky.pk:
            raise OperationalError("server closed the connection unexpectedly")
        return real(publication, *args, **kwargs)

    monkeypatch.setattr(attempt, "record", record)
    monkeypatch.setattr(runner.connection, "close", lambda: None)  # the test's transaction
    assert runner.drain() == {"database_error": 1, "published": 2}
    unlucky.refresh_from_db()
    assert unlucky.status == P.PUBLISHING, "held by its lease until recovery"
    monkeypatch.setattr(attempt, "record", real)
    assert claims.recover_lapsed_claims(now=lapse()) == 1
    assert tasks.drain() == {"reconciled": 1}
    assert len(sandbox_posts(sandbox_dir)) == 3, "the post that went out is not sent twice"


def test_after_repeated_database_errors_the_worker_gives_back_what_it_did_not_start(
    brand, actor, monkeypatch
) -> None:
    items = [scheduled_item(brand, actor) for _ in range(6)]

    def record(*args, **kwargs):
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr(attempt, "record", record)
    monkeypatch.setattr(runner.connection, "close", lambda: None)
    outcomes = runner.drain()
    assert outcomes == {"database_error": runner.DATABASE_ERRORS_TO_STOP}
    statuses = sorted(
        Publication.objects.filter(content_item__in=items).values_list("status", flat=True)
    )
    assert statuses.count(P.PUBLISHING) == runner.DATABASE_ERRORS_TO_STOP
    assert statuses.count(P.PENDING) == 6 - runner.DATABASE_ERRORS_TO_STOP


def test_the_dispatcher_sends_only_the_wake_ups_that_are_missing(
    brand, actor, monkeypatch, settings
) -> None:
    from calendar_app.delivery import dispatcher

    settings.KAIROS_CLAIM_BATCH = 2
    settings.KAIROS_DISPATCH_PREFETCH = 3
    for _ in range(10):
        f_item = scheduled_item(brand, actor)
        assert f_item.publications.count() == 1
    sent = []
    monkeypatch.setattr(dispatcher, "async_task", lambda *a, **k: sent.append(a[0]))
    monkeypatch.setattr(dispatcher, "waiting_tasks", lambda: 1)
    assert dispatch_due() == 2  # 10 due → 5 tasks' worth, capped at 3, one already waiting
    assert sent == [dispatcher.DRAIN_TASK] * 2
    monkeypatch.setattr(dispatcher, "waiting_tasks", lambda: 5)
    assert dispatch_due() == 0


@override_settings(KAIROS_RETRY_MAX_ATTEMPTS=3, KAIROS_RETRY_BASE=0.01, KAIROS_RETRY_CAP=0.01)
def test_timed_out_after_posting_then_500s_ends_unconfirmed_not_failed(
    brand, actor, monkeypatch
) -> None:
    """The receiver processed attempt 1 but answered too late; attempts 2 and 3 got a 500."""
    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "webhook")
    with FakeServer() as server:
        server.reply(Reply(200, json={"id": "late"}, delay=1.5), Reply(500), Reply(500))
        hook = f.ChannelFactory(
            brand=brand,
            workspace=brand.workspace,
            network="webhook",
            settings={"url": server.url, "read_timeout": 0.5},
            secrets={"signing_secret": "s3cret-s3cret"},
        )
        item = scheduled_item(brand, actor, channels=[hook])
        publication = item.publications.get()
        for _ in range(3):
            Publication.objects.filter(pk=publication.pk, status=P.PENDING).update(
                next_attempt_at=timezone.now()
            )
            tasks.deliver(publication.pk)
        assert len(server.requests) == 3
    publication.refresh_from_db()
    assert publication.status == P.UNCONFIRMED
    assert publication.may_have_posted
    assert "may have reached the network" in publication.last_error_reason
    assert "try again" not in publication.last_error_reason


@override_settings(KAIROS_RETRY_MAX_ATTEMPTS=2, KAIROS_RETRY_BASE=0.01, KAIROS_RETRY_CAP=0.01)
def test_giving_up_without_any_doubt_is_a_plain_failure(brand, actor) -> None:
    item = scheduled_item(brand, actor, channels=[channel(brand, fail_mode="transient")])
    publication = item.publications.get()
    for _ in range(2):
        Publication.objects.filter(pk=publication.pk, status=P.PENDING).update(
            next_attempt_at=timezone.now()
        )
        tasks.deliver(publication.pk)
    publication.refresh_from_db()
    assert publication.status == P.FAILED and not publication.may_have_posted
    assert publication.last_error_reason.startswith("Gave up after 2 attempts")


def test_a_pending_retry_says_when_and_which_attempt(brand, actor) -> None:
    item = scheduled_item(brand, actor, channels=[channel(brand, fail_mode="transient")])
    publication = item.publications.get()
    tasks.deliver(publication.pk)
    publication.refresh_from_db()
    assert publication.status == P.PENDING
    assert "Attempt 1 of 8; the next one is at" in publication.last_error_reason
    assert publication.first_attempt_at is not None


def test_the_sweep_settles_an_item_whose_worker_died_before_settling(brand, actor) -> None:
    item = scheduled_item(brand, actor)
    publication = item.publications.get()
    Publication.objects.filter(pk=publication.pk).update(
        status=P.PUBLISHED, published_at=timezone.now()
    )
    assert tasks.sweep()["settled"] == 1
    item.refresh_from_db()
    assert item.status == ContentStatus.PUBLISHED
