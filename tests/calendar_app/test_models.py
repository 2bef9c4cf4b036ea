"""Database constraints and model validation: bad data is refused by the database itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from calendar_app.models import ApiToken, Channel, Role, Variant
from tests import factories as f

pytestmark = pytest.mark.django_db


def refused(factory, **kwargs) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(**kwargs)


def test_event_cannot_end_before_it_starts() -> None:
    refused(
        f.EventFactory,
        starts_at=datetime(2027, 1, 2, tzinfo=UTC),
        ends_at=datetime(2027, 1, 1, tzinfo=UTC),
    )


def test_one_control_per_experiment() -> None:
    experiment = f.ExperimentFactory()
    f.VariantFactory(experiment=experiment, key="control", is_control=True)
    refused(f.VariantFactory, experiment=experiment, key="other", is_control=True)


def test_variant_keys_are_unique_and_weights_positive() -> None:
    experiment = f.ExperimentFactory()
    f.VariantFactory(experiment=experiment, key="b")
    refused(f.VariantFactory, experiment=experiment, key="b")
    refused(f.VariantFactory, experiment=experiment, key="c", weight=0)


def test_one_publication_per_item_channel_variant() -> None:
    publication = f.PublicationFactory()
    refused(
        f.PublicationFactory, content_item=publication.content_item, channel=publication.channel
    )


def test_scheduled_items_need_a_time() -> None:
    refused(f.ContentItemFactory, status="scheduled", scheduled_at=None)


def test_unknown_status_is_refused_by_the_database() -> None:
    refused(f.ContentItemFactory, status="posted")


def test_template_window_must_be_ordered() -> None:
    now = datetime(2027, 1, 1, tzinfo=UTC)
    refused(f.ReactiveTemplateFactory, valid_from=now, valid_until=now - timedelta(hours=1))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("time_zone", "Mars/Olympus", "IANA time zone"),
        ("language", "english!", "language tag"),
        ("profile", {"themes": "sport"}, "list of strings"),
        ("profile", {"colour": ["red"]}, "Unknown profile keys"),
    ],
)
def test_brand_validation_messages(field, value, message) -> None:
    brand = f.BrandFactory.build(workspace=f.WorkspaceFactory(), **{field: value})
    with pytest.raises(ValidationError) as info:
        brand.full_clean()
    assert field in info.value.message_dict
    assert message in " ".join(info.value.message_dict[field])


@pytest.mark.parametrize(
    "rule", ["FREQ=SOMETIMES", "DTSTART:20270101T000000\nRRULE:FREQ=DAILY", "x" * 600]
)
def test_bad_recurrence_rules_are_refused(rule) -> None:
    event = f.EventFactory.build(rrule=rule)
    with pytest.raises(ValidationError) as info:
        event.full_clean()
    assert "rrule" in info.value.message_dict


def test_event_clean_names_the_field() -> None:
    event = f.EventFactory.build(
        starts_at=datetime(2027, 1, 2, tzinfo=UTC), ends_at=datetime(2027, 1, 1, tzinfo=UTC)
    )
    with pytest.raises(ValidationError) as info:
        event.full_clean()
    assert "ends_at" in info.value.message_dict


def test_api_token_is_stored_hashed_and_shown_once(workspace) -> None:
    token, clear = ApiToken.issue(workspace=workspace, name="agency", role=Role.EDITOR)
    prefix, secret = clear.split(".", 1)
    assert prefix == token.prefix
    stored = ApiToken.objects.get(pk=token.pk)
    assert secret not in stored.secret_hash
    assert stored.matches(secret)
    assert not stored.matches(secret + "x")
    token.revoke()
    assert not ApiToken.objects.usable().filter(pk=token.pk).exists()


def test_variant_str_and_ordering() -> None:
    experiment = f.ExperimentFactory()
    f.VariantFactory(experiment=experiment, key="b")
    f.VariantFactory(experiment=experiment, key="control", is_control=True)
    assert [v.key for v in Variant.objects.filter(experiment=experiment)] == ["control", "b"]


def test_channel_status_change_is_timestamped() -> None:
    channel = f.ChannelFactory()
    channel.set_status("expired", "Token revoked by the network")
    channel = Channel.objects.get(pk=channel.pk)
    assert channel.status == "expired"
    assert channel.status_changed_at is not None


@pytest.mark.parametrize("rule", ["FREQ=HOURLY", "FREQ=MINUTELY;COUNT=5"])
def test_sub_daily_recurrence_is_refused(rule) -> None:
    event = f.EventFactory.build(rrule=rule)
    with pytest.raises(ValidationError) as info:
        event.full_clean()
    assert "daily at most" in " ".join(info.value.message_dict["rrule"])


def test_a_rule_that_never_occurs_is_refused_before_it_can_stall_a_request() -> None:
    """dateutil would search until the year 9999 for a 30th of February; every door saves."""
    with pytest.raises(ValidationError) as info:
        f.EventFactory(rrule="FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;COUNT=3")
    assert "never produces a date" in " ".join(info.value.message_dict["rrule"])
    assert not f.EventFactory._meta.model.objects.exists()
