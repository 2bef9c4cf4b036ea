"""Fixtures for audience lists: factories, a list with subscribers, an email channel."""

from __future__ import annotations

from datetime import UTC, datetime

import factory
import pytest

from calendar_app.audiences.models import AudienceList, Subscriber
from calendar_app.plugins_runtime import reset_plugins
from tests import factories as f

CONSENT_AT = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


class AudienceListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AudienceList

    brand = factory.SubFactory(f.BrandFactory)
    workspace = factory.SelfAttribute("brand.workspace")
    name = factory.Sequence(lambda n: f"Newsletter {n}")


class SubscriberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscriber

    audience = factory.SubFactory(AudienceListFactory)
    workspace = factory.SelfAttribute("audience.workspace")
    email = factory.Sequence(lambda n: f"person{n}@example.org")
    name = factory.Sequence(lambda n: f"Person {n}")
    consent_at = CONSENT_AT
    consent_source = "signup form"


@pytest.fixture(autouse=True)
def _fresh_plugins(monkeypatch, settings):
    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "email")
    settings.KAIROS_TRACKING_BASE_URL = "https://kairos.example"
    reset_plugins()
    yield
    reset_plugins()


@pytest.fixture
def audience(brand):
    return AudienceListFactory(brand=brand, workspace=brand.workspace)
