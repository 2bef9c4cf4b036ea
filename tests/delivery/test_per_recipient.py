"""An experiment on a network that splits one post per recipient (the sandbox email list).

One publication without a variant goes out carrying every arm; the network splits its list and
reports the counts, which become the variants' exposures (RecipientSplit rows).
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calendar_app import allocation, delivery, experiments, workflow
from calendar_app.delivery import claims
from calendar_app.delivery.dispatcher import dispatch_due
from calendar_app.models import (
    AttemptOutcome,
    Publication,
    PublicationStatus,
    RecipientSplit,
    Role,
    TrackedLink,
)
from calendar_app.plugins_runtime import get_plugins
from publishers import split_recipients
from tests import factories as f
from tests.delivery.conftest import claimed_by, sandbox_posts

pytestmark = pytest.mark.django_db
P = PublicationStatus
RECIPIENTS = 2000


@pytest.fixture
def experiment(brand):
    exp = f.ExperimentFactory(brand=brand, workspace=brand.workspace)
    f.VariantFactory(
        experiment=exp,
        key="control",
        is_control=True,
        weight=1,
        cta_text="Shop now",
        cta_url="https://shop.example/spring",
    )
    f.VariantFactory(
        experiment=exp,
        key="bold",
        weight=1,
        cta_text="Grab yours before midnight",
        cta_url="https://shop.example/spring?src=mail",
    )
    return exp


@pytest.fixture
def email_channel(brand):
    return f.ChannelFactory(
        brand=brand,
        workspace=brand.workspace,
        network="sandbox_email",
        settings={"recipients": RECIPIENTS},
    )


def schedule(brand, actor, experiment, channel):
    item = f.ContentItemFactory(
        brand=brand, workspace=brand.workspace, channels=[channel], experiment=experiment
    )
    admin = actor(Role.ADMIN)
    workflow.submit(item, admin)
    workflow.approve(item, admin)
    workflow.schedule(item, admin, when=timezone.now() - timedelta(seconds=1))
    item.refresh_from_db()
    return item


def expected_split(experiment) -> dict[str, int]:
    arms = [(v.key, v.weight) for v in experiment.variants.all()]
    parts = split_recipients(range(RECIPIENTS), arms, f"experiment:{experiment.pk}")
    return {key: len(ids) for key, ids in parts.items()}


def splits(publication) -> dict[str, int]:
    return {
        row.variant.key: row.recipients
        for row in RecipientSplit.objects.filter(publication=publication).select_related("variant")
    }


def test_one_post_split_per_recipient_end_to_end(
    brand, actor, experiment, email_channel, sandbox_dir
):
    item = schedule(brand, actor, experiment, email_channel)
    publication = item.publications.get()
    assert publication.variant is None  # the network splits, not the allocation

    assert dispatch_due() == 1
    publication.refresh_from_db()
    assert publication.status == P.PUBLISHED

    # The split is recorded: every recipient once, as the network drew it.
    counts = splits(publication)
    assert counts == expected_split(experiment)
    assert sum(counts.values()) == RECIPIENTS
    assert set(counts) == {"control", "bold"} and min(counts.values()) > 0

    # One tracked link per variant, each the CTA its recipients got, tagged with its key.
    links = {link.variant.key: link for link in TrackedLink.objects.filter(publication=publication)}
    assert set(links) == {"control", "bold"}
    assert links["bold"].target_url == "https://shop.example/spring?src=mail"
    (record,) = sandbox_posts(sandbox_dir)
    post = record["post"]
    assert post["cta"] is None and post["variant_key"] == ""
    assert post["experiment_key"] == str(experiment.pk)
    offers = {offer["key"]: offer for offer in post["variants"]}
    for key, link in links.items():
        url = offers[key]["cta"]["url"]
        assert urlsplit(url).path == f"/r/{link.code}"
        assert dict(parse_qsl(urlsplit(url).query))["utm_content"] == key
        assert record["messages"][key]["body"].endswith(url)
    assert record["recipients_per_variant"] == counts

    # The analysis counts each variant's recipients as its exposures.
    result = experiments.aggregate_counts(experiment)
    for key, n in counts.items():
        assert result.arms[key].recipients == n
        assert result.arms[key].exposures == n
        assert result.arms[key].publications == 0
    assert result.strata["sandbox_email"]["bold"].impressions == counts["bold"]


def test_a_reconciled_publish_records_the_split_once(
    brand, actor, experiment, email_channel, sandbox_dir
):
    publication = schedule(brand, actor, experiment, email_channel).publications.get()
    claimed = claimed_by("dead-worker", publication, started=True)
    # The worker sent the email, then died before recording anything.
    get_plugins().network("sandbox_email").publish(
        delivery.build_post(claimed),
        delivery.channel_context(claimed.channel),
        claimed.idempotency_key,
    )
    later = timezone.now() + claims.claim_ttl() + timedelta(seconds=1)
    assert delivery.recover_lapsed_claims(now=later) == 1
    Publication.objects.filter(pk=publication.pk).update(next_attempt_at=timezone.now())
    report = delivery.deliver_publication(publication.pk)
    assert report.outcome == AttemptOutcome.RECONCILED
    assert len(sandbox_posts(sandbox_dir)) == 1
    assert splits(publication) == expected_split(experiment)
    assert RecipientSplit.objects.filter(publication=publication).count() == 2
    # The tracked links built twice (crashed attempt, then the retry) are the same rows.
    assert TrackedLink.objects.filter(publication=publication).count() == 2
    # Recording again (a second reconciliation) overwrites rather than duplicates.
    allocation.record_recipient_split(publication, {"control": 3, "bold": 4})
    assert splits(publication) == {"control": 3, "bold": 4}


def test_unknown_variant_reported_by_the_network_is_ignored(
    brand, actor, experiment, email_channel
):
    publication = schedule(brand, actor, experiment, email_channel).publications.get()
    with pytest.raises(ValueError):
        allocation.record_recipient_split(publication, {"ghost": 1})
    allocation.record_recipient_split(publication, {"ghost": 1, "bold": 5}, strict=False)
    assert splits(publication) == {"bold": 5}


def test_plain_networks_keep_one_variant_per_publication(brand, actor, experiment, sandbox_dir):
    channel = f.ChannelFactory(brand=brand, workspace=brand.workspace, network="sandbox")
    publication = schedule(brand, actor, experiment, channel).publications.get()
    assert publication.variant is not None
    dispatch_due()
    post = sandbox_posts(sandbox_dir)[0]["post"]
    assert post["variants"] == [] and post["variant_key"] == publication.variant.key
    assert not RecipientSplit.objects.exists()


def test_without_an_experiment_the_email_goes_to_everyone(brand, actor, email_channel, sandbox_dir):
    item = f.ContentItemFactory(brand=brand, workspace=brand.workspace, channels=[email_channel])
    admin = actor(Role.ADMIN)
    workflow.submit(item, admin)
    workflow.approve(item, admin)
    workflow.schedule(item, admin, when=timezone.now() - timedelta(seconds=1))
    dispatch_due()
    (record,) = sandbox_posts(sandbox_dir)
    assert record["post"]["variants"] == [] and record["recipients_per_variant"] == {}
    assert not RecipientSplit.objects.exists()


def test_delivery_queries_stay_modest(brand, actor, experiment, email_channel, sandbox_dir):
    """A split delivery costs a handful of queries more than a plain one, whatever the list."""
    plain_channel = f.ChannelFactory(brand=brand, workspace=brand.workspace, network="sandbox")
    plain = schedule(brand, actor, experiment, plain_channel).publications.get()
    split = schedule(brand, actor, experiment, email_channel).publications.get()
    with CaptureQueriesContext(connection) as plain_ctx:
        delivery.deliver_publication(plain.pk)
    with CaptureQueriesContext(connection) as split_ctx:
        delivery.deliver_publication(split.pk)
    extra = len(split_ctx.captured_queries) - len(plain_ctx.captured_queries)
    # variants (1) + per variant: tracked-link lookup and insert (2 x 2) + split (2)
    assert extra <= 8, [q["sql"] for q in split_ctx.captured_queries]


def test_host_split_delegates_to_the_publishers_rule():
    arms = [("control", 1), ("bold", 3)]
    assert allocation.split_recipients(range(500), arms, "experiment:7") == split_recipients(
        range(500), arms, "experiment:7"
    )
