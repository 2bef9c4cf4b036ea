"""Every life-cycle event type is emitted once per occurrence, driven through the real workflow,
reactive, delivery and experiment code (django-q2 in sync mode; commit callbacks executed)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from calendar_app import delivery, workflow
from calendar_app.delivery.dispatcher import dispatch_due
from calendar_app.experiments import record_decision
from calendar_app.models import ChannelStatus, PublicationStatus, Role, WebhookEvent
from calendar_app.outbound import events as ev
from calendar_app.reactive import approve_template, fire_template
from publishers import Capabilities, Network, TransientError, hookimpl
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def listening(workspace, subscribe, receiver):
    """Subscribe to everything; ``listening()`` → Counter of the event types received."""
    subscribe(workspace)
    yield lambda: Counter(receiver.types())
    assert receiver.rejected == []


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """``with commit(): ...`` runs what the block deferred to commit (the test's transaction
    never commits), including callbacks those callbacks add."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def scheduled(brand, actor, channels=None):
    item = f.ContentItemFactory(brand=brand, workspace=brand.workspace, channels=channels)
    admin = actor(Role.ADMIN)
    workflow.submit(item, admin)
    workflow.approve(item, admin)
    workflow.schedule(item, admin, when=timezone.now() - timedelta(seconds=1))
    return item


def test_content_life_cycle_and_publication(brand, actor, listening, receiver, commit):
    with commit():
        item = scheduled(brand, actor)
    assert listening() == Counter(
        {
            ev.CONTENT_CREATED: 1,
            ev.CONTENT_SUBMITTED: 1,
            ev.CONTENT_APPROVED: 1,
            ev.CONTENT_SCHEDULED: 1,
        }
    )
    with commit():
        dispatch_due()
    assert listening()[ev.PUBLICATION_SUCCEEDED] == 1
    publication = item.publications.get()
    succeeded = receiver.verified[-1].json()
    assert succeeded["data"]["publication"]["id"] == publication.pk
    assert succeeded["data"]["publication"]["status"] == PublicationStatus.PUBLISHED
    approved = next(r.json() for r in receiver.verified if r.json()["type"] == ev.CONTENT_APPROVED)
    assert approved["data"]["content_item"]["id"] == item.pk
    assert approved["data"]["transition"]["action"] == "approve"
    # Settling and re-dispatching add nothing.
    with commit():
        dispatch_due()
    assert sum(listening().values()) == 5


def test_reschedule_is_a_scheduled_event(brand, actor, listening, receiver, commit):
    item = f.ContentItemFactory(brand=brand, workspace=brand.workspace)
    admin = actor(Role.ADMIN)
    with commit():
        workflow.submit(item, admin)
    with commit():
        workflow.approve(item, admin)
    with commit():
        workflow.schedule(item, admin, when=timezone.now() + timedelta(days=2))
    with commit():
        workflow.reschedule(item, admin, when=timezone.now() + timedelta(days=3))
    assert listening()[ev.CONTENT_SCHEDULED] == 2
    actions = [r.json()["data"]["transition"]["action"] for r in receiver.verified[-2:]]
    assert actions == ["schedule", "reschedule"]


def test_failure_then_retry_then_success(brand, actor, listening, receiver, commit):
    channel = f.ChannelFactory(
        brand=brand, workspace=brand.workspace, settings={"fail_mode": "permanent"}
    )
    with commit():
        item = scheduled(brand, actor, channels=[channel])
    with commit():
        dispatch_due()
    publication = item.publications.get()
    assert publication.status == PublicationStatus.FAILED
    assert listening()[ev.PUBLICATION_FAILED] == 1
    failed = receiver.verified[-1].json()["data"]
    assert failed["error"]["code"] and failed["publication"]["id"] == publication.pk

    channel.settings = {}
    with commit():
        channel.save()
    with commit():
        delivery.retry_publication(publication, actor(Role.APPROVER))
    assert listening()[ev.PUBLICATION_RETRIED] == 1
    retried = next(
        r.json() for r in receiver.verified if r.json()["type"] == ev.PUBLICATION_RETRIED
    )
    assert retried["data"]["retried_from"] == "failed"
    with commit():
        dispatch_due()
    counts = listening()
    assert counts[ev.PUBLICATION_SUCCEEDED] == 1
    assert counts[ev.PUBLICATION_FAILED] == 1
    assert counts[ev.PUBLICATION_RETRIED] == 1


def test_transient_failures_that_will_be_retried_are_not_announced(brand, actor, listening, commit):
    channel = f.ChannelFactory(
        brand=brand, workspace=brand.workspace, settings={"fail_mode": "transient"}
    )
    with commit():
        item = scheduled(brand, actor, channels=[channel])
    with commit():
        dispatch_due()
    assert item.publications.get().status == PublicationStatus.PENDING
    assert listening()[ev.PUBLICATION_FAILED] == 0


def test_expired_credentials_expire_the_channel_once(brand, actor, listening, receiver, commit):
    channel = f.ChannelFactory(
        brand=brand, workspace=brand.workspace, settings={"fail_mode": "expired"}
    )
    with commit():
        scheduled(brand, actor, channels=[channel])
    with commit():
        dispatch_due()
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.EXPIRED
    counts = listening()
    assert counts[ev.CHANNEL_EXPIRED] == 1
    # The publication is held until the channel is reconnected: it has not failed.
    assert counts[ev.PUBLICATION_FAILED] == 0
    expired = next(r.json() for r in receiver.verified if r.json()["type"] == ev.CHANNEL_EXPIRED)
    assert expired["data"]["channel"]["id"] == channel.pk
    assert "secrets" not in expired["data"]["channel"]
    with commit():
        channel.set_status(ChannelStatus.EXPIRED, "again")  # already expired: not a new occurrence
    with commit():
        channel.save()
    assert listening()[ev.CHANNEL_EXPIRED] == 1


class BlindNetwork(Network):
    """Times out after sending and can neither deduplicate nor search: outcome unknown."""

    key = "blind-outbound"
    display_name = "Blind"
    capabilities = Capabilities(max_text_length=500)

    def validate(self, post, channel):
        return []

    def publish(self, post, channel, idempotency_key):
        raise TransientError("Read timed out after sending.", code="timeout", may_have_posted=True)

    def fetch_metrics(self, ref, channel):
        raise NotImplementedError


class BlindPlugin:
    @hookimpl
    def register_networks(self):
        return [BlindNetwork()]


def test_unconfirmed_then_retried(brand, actor, listening, plugins_with, receiver, commit):
    plugins_with(("blind", BlindPlugin()))
    channel = f.ChannelFactory(brand=brand, workspace=brand.workspace, network=BlindNetwork.key)
    with commit():
        item = scheduled(brand, actor, channels=[channel])
    with commit():
        dispatch_due()
    publication = item.publications.get()
    assert publication.status == PublicationStatus.UNCONFIRMED
    assert listening()[ev.PUBLICATION_UNCONFIRMED] == 1
    assert receiver.verified[-1].json()["data"]["error"]["code"] == "timeout"
    with commit():
        delivery.retry_publication(
            publication, actor(Role.APPROVER), resolved_unconfirmed="not_posted"
        )
    assert listening()[ev.PUBLICATION_RETRIED] == 1
    retried = next(
        r.json() for r in receiver.verified if r.json()["type"] == ev.PUBLICATION_RETRIED
    )
    assert retried["data"]["retried_from"] == "unconfirmed"
    assert listening()[ev.PUBLICATION_FAILED] == 0


def test_firing_a_template(brand, actor, listening, receiver, commit):
    template = f.ReactiveTemplateFactory(brand=brand, workspace=brand.workspace)
    approver = actor(Role.APPROVER)
    with commit():
        approve_template(template, approver)
    with commit():
        fire = fire_template(template, approver, {"moment": "the lights went out"})
    counts = listening()
    assert counts[ev.TEMPLATE_FIRED] == 1
    assert counts[ev.CONTENT_CREATED] == 1  # the item the fire made
    assert counts[ev.PUBLICATION_SUCCEEDED] == 1  # delivered at once (sync queue)
    fired = next(r.json() for r in receiver.verified if r.json()["type"] == ev.TEMPLATE_FIRED)
    assert fired["data"]["fire"]["id"] == fire.pk
    assert fired["data"]["fire"]["values"] == {"moment": "the lights went out"}


def test_experiment_decision(brand, actor, listening, receiver, commit, monkeypatch):
    # The statistics are not under test here: a fixed recommendation, recorded for real.
    decision = {"action": "ship", "label": "Ship b", "sentence": "b wins.", "variant": "b"}
    monkeypatch.setattr(
        "calendar_app.experiments.analyse_experiment",
        lambda experiment, now=None: {"decision": dict(decision)},
    )
    experiment = f.ExperimentFactory(brand=brand, workspace=brand.workspace)
    f.VariantFactory(experiment=experiment, key="control", is_control=True)
    f.VariantFactory(experiment=experiment, key="b", cta_text="Buy")
    approver = actor(Role.APPROVER)
    with commit():
        record_decision(experiment, approver)
    assert listening()[ev.EXPERIMENT_DECIDED] == 1
    data = receiver.verified[-1].json()["data"]["experiment"]
    assert data["id"] == experiment.pk
    assert (data["decision"], data["decided_variant"]) == ("ship", "b")
    experiment.refresh_from_db()
    experiment.name = "Renamed"
    with commit():
        experiment.save()  # an edit is not a decision
    with commit():
        record_decision(experiment, approver)  # a second decision is a second occurrence
    assert listening()[ev.EXPERIMENT_DECIDED] == 2


def test_another_workspace_hears_nothing(
    brand, actor, other_workspace, subscribe, receiver, commit
):
    subscribe(other_workspace)
    with commit():
        scheduled(brand, actor)
        dispatch_due()
    assert not WebhookEvent.objects.exists()
    assert receiver.server.requests == []
