"""A channel whose network budget is spent waits for the reset instead of collecting 429s."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calendar_app.delivery import claims
from calendar_app.delivery.budget import remember_budget
from calendar_app.delivery.dispatcher import dispatch_due
from calendar_app.models import Channel, PublicationStatus
from publishers import Outcome, PublishResult, RateLimit, Status
from tests import factories as f
from tests.delivery.conftest import channel, scheduled_item

pytestmark = pytest.mark.django_db
P = PublicationStatus


def test_a_spent_budget_pauses_the_channel_until_the_reset(brand, actor) -> None:
    target = channel(brand)
    now = timezone.now()
    reading = RateLimit(300, 0, now + timedelta(minutes=5), now)
    remember_budget(
        target, Outcome(Status.PUBLISHED, result=PublishResult("x"), rate_limit=reading), now
    )
    target.refresh_from_db()
    assert target.paused_until == reading.reset_at
    assert target.rate_limit["remaining"] == 0 and target.rate_limit["limit"] == 300
    waiting = scheduled_item(brand, actor, channels=[target]).publications.get()
    other = scheduled_item(brand, actor, channels=[channel(brand)]).publications.get()
    assert dispatch_due() == 1
    waiting.refresh_from_db()
    other.refresh_from_db()
    assert (waiting.status, waiting.attempts) == (P.PENDING, 0), "not attempted: no attempt used"
    assert other.status == P.PUBLISHED
    Channel.objects.filter(pk=target.pk).update(paused_until=now - timedelta(seconds=1))
    assert dispatch_due() == 1
    waiting.refresh_from_db()
    assert waiting.status == P.PUBLISHED


def test_a_429_with_a_wait_pauses_the_channel_for_that_long(brand) -> None:
    target = channel(brand)
    now = timezone.now()
    outcome = Outcome(Status.RETRY, code="rate_limited", retry_after=120)
    remember_budget(target, outcome, now)
    target.refresh_from_db()
    assert target.paused_until == now + timedelta(seconds=120)
    assert target.rate_limit == {}


def test_headroom_is_kept_without_pausing_and_silence_costs_no_query(
    brand, django_assert_num_queries
) -> None:
    target = channel(brand)
    now = timezone.now()
    remember_budget(
        target, Outcome(Status.PUBLISHED, rate_limit=RateLimit(300, 120, None, now)), now
    )
    target.refresh_from_db()
    assert target.paused_until is None and target.rate_limit["remaining"] == 120
    with django_assert_num_queries(0):
        remember_budget(target, Outcome(Status.PUBLISHED), now)


def test_a_publication_of_a_paused_channel_is_not_claimed(brand, actor) -> None:
    target = f.ChannelFactory(
        brand=brand, workspace=brand.workspace, paused_until=timezone.now() + timedelta(hours=1)
    )
    item = scheduled_item(brand, actor, channels=[target])
    assert claims.claim_due("w1", limit=10) == []
    assert item.publications.get().status == P.PENDING
