"""The retry policy is configuration: the operator's defaults, a network's own, per-network
overrides; and a network's idempotency window bounds the retries that could post twice."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.utils import timezone

from calendar_app import tasks
from calendar_app.checks import check_task_queue
from calendar_app.delivery.policy import default_policy, network_overrides, policy_for
from calendar_app.models import Publication, PublicationStatus
from publishers import Capabilities, Network, RetryPolicy, TransientError, hookimpl
from tests import factories as f
from tests.delivery.conftest import scheduled_item

P = PublicationStatus


def test_the_defaults_are_the_documented_schedule() -> None:
    assert default_policy() == RetryPolicy(
        base=15, factor=2, cap=3600, max_attempts=8, max_retry_after=21600, jitter=1
    )


@override_settings(KAIROS_RETRY_MAX_ATTEMPTS=4, KAIROS_RETRY_BASE=2, KAIROS_RETRY_JITTER=0.25)
def test_the_operator_sets_the_defaults() -> None:
    policy = policy_for("sandbox")
    assert (policy.max_attempts, policy.base, policy.jitter) == (4, 2, 0.25)


@override_settings(KAIROS_RETRY_NETWORKS='{"webhook": {"max_attempts": 3, "cap": 60}}')
def test_the_operator_overrides_one_network() -> None:
    assert (policy_for("webhook").max_attempts, policy_for("webhook").cap) == (3, 60)
    assert policy_for("sandbox").max_attempts == 8


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1]", "JSON object keyed by network"),
        ('{"webhook": 3}', "must be an object"),
        ('{"webhook": {"attempts": 3}}', "unknown attempts"),
    ],
)
def test_malformed_overrides_are_refused_with_the_reason(raw, message) -> None:
    with (
        override_settings(KAIROS_RETRY_NETWORKS=raw),
        pytest.raises(ImproperlyConfigured, match=message),
    ):
        network_overrides()


@override_settings(KAIROS_RETRY_NETWORKS='{"webhook": {"jitter": 3}}', KAIROS_RETRY_CAP=1)
def test_the_system_check_reports_unusable_retry_settings() -> None:
    messages = [e.msg for e in check_task_queue(None) if e.id == "kairos.E006"]
    assert any("KAIROS_RETRY_*" in m for m in messages)
    assert any("KAIROS_RETRY_NETWORKS['webhook']" in m for m in messages)


class Forgetful(Network):
    """Deduplicates keys for one minute only, times out after sending, and declares its policy."""

    key = "forgetful"
    display_name = "Forgetful"
    capabilities = Capabilities(supports_idempotency_key=True, idempotency_window=60)
    retry_policy = RetryPolicy(base=300, cap=300, max_attempts=5, jitter=0)
    sent: list[str] = []

    def validate(self, post, channel):
        return []

    def publish(self, post, channel, idempotency_key):
        self.sent.append(idempotency_key)
        raise TransientError("Read timed out.", code="timeout", may_have_posted=True)

    def fetch_metrics(self, ref, channel):
        raise NotImplementedError


class ForgetfulPlugin:
    @hookimpl
    def register_networks(self):
        return [Forgetful()]


@pytest.mark.django_db
def test_no_retry_outside_the_network_s_idempotency_window(brand, actor, plugins_with) -> None:
    plugins_with(ForgetfulPlugin())
    assert policy_for("forgetful").base == 300, "the network's own policy"
    hook = f.ChannelFactory(brand=brand, workspace=brand.workspace, network="forgetful")
    item = scheduled_item(brand, actor, channels=[hook])
    publication = item.publications.get()
    started = timezone.now()
    tasks.deliver(publication.pk)
    publication.refresh_from_db()
    # The policy says 300 s, but the key is forgotten after 60: the retry is brought forward.
    assert publication.status == P.PENDING and publication.may_have_posted
    assert (publication.next_attempt_at - started).total_seconds() < 60
    # Once the window has closed, a retry could post twice: it is left to a person.
    Publication.objects.filter(pk=publication.pk).update(
        first_attempt_at=timezone.now() - timezone.timedelta(seconds=120),
        next_attempt_at=timezone.now(),
    )
    tasks.deliver(publication.pk)
    publication.refresh_from_db()
    assert publication.status == P.UNCONFIRMED
    assert "forgets a post's key after 60 s" in publication.last_error_reason
