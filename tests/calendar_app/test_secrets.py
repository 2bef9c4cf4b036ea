"""Channel credentials: encrypted at rest, rotatable, never serialised in clear."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core import serializers
from django.core.management import call_command
from django.db import connection

from calendar_app.models import Channel
from tests import factories as f

pytestmark = pytest.mark.django_db


def raw_secret(channel: Channel) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM calendar_app_channel WHERE id = %s", [channel.pk])
        return cursor.fetchone()[0]


def test_secrets_round_trip_and_are_not_stored_in_clear() -> None:
    channel = f.ChannelFactory(secrets={"token": "very-secret-value"})
    assert "very-secret-value" not in raw_secret(channel)
    assert Channel.objects.get(pk=channel.pk).secrets == {"token": "very-secret-value"}


def test_serialisation_never_writes_secrets() -> None:
    channel = f.ChannelFactory(secrets={"token": "very-secret-value"})
    dumped = serializers.serialize("json", [channel])
    assert "very-secret-value" not in dumped


def test_key_rotation_reencrypts_with_the_new_key(settings) -> None:
    channel = f.ChannelFactory(secrets={"token": "rotate-me"})
    old_keys = list(settings.KAIROS_ENCRYPTION_KEYS)
    new_key = Fernet.generate_key().decode()
    settings.KAIROS_ENCRYPTION_KEYS = [new_key, *old_keys]
    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    token = raw_secret(channel)
    assert Fernet(new_key.encode()).decrypt(token.encode())
    settings.KAIROS_ENCRYPTION_KEYS = [new_key]  # the old key can now be dropped
    assert Channel.objects.get(pk=channel.pk).secrets == {"token": "rotate-me"}


def test_missing_key_is_a_clear_error(settings) -> None:
    from django.core.exceptions import ImproperlyConfigured

    channel = f.ChannelFactory(secrets={"token": "x"})
    settings.KAIROS_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        Channel.objects.get(pk=channel.pk)


def test_non_string_secret_values_fail_validation() -> None:
    from django.core.exceptions import ValidationError

    channel = f.ChannelFactory.build(brand=f.BrandFactory(), secrets={"token": 12})
    channel.workspace = channel.brand.workspace
    with pytest.raises(ValidationError):
        channel.full_clean()
