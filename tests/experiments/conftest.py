"""Helpers for experiment tests: an experiment with variants, publications and snapshots."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calendar_app.models import PublicationStatus
from tests import factories as f


@pytest.fixture
def experiment(brand):
    exp = f.ExperimentFactory(brand=brand, workspace=brand.workspace)
    f.VariantFactory(experiment=exp, key="control", is_control=True, cta_text="Shop now")
    f.VariantFactory(experiment=exp, key="bold", cta_text="Grab yours before midnight")
    return exp


@pytest.fixture
def make_publication(brand):
    """``make_publication(variant, network="sandbox")`` → a published publication."""

    def make(variant=None, network="sandbox", item=None, when=None):
        when = when or datetime(2027, 3, 1, 12, tzinfo=UTC)
        channel = f.ChannelFactory(brand=brand, workspace=brand.workspace, network=network)
        item = item or f.ContentItemFactory(
            brand=brand,
            workspace=brand.workspace,
            experiment=variant.experiment if variant else None,
            channels=[channel],
        )
        return f.PublicationFactory(
            content_item=item,
            workspace=brand.workspace,
            channel=channel,
            variant=variant,
            status=PublicationStatus.PUBLISHED,
            published_at=when,
            due_at=when,
        )

    return make
