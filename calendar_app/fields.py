"""Encrypted storage for channel credentials.

Secrets are encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) before they
touch the database. ``KAIROS_ENCRYPTION_KEYS`` lists keys newest first: the first encrypts, every
one decrypts, so a key is rotated by putting a new one in front, running
``manage.py rotate_encryption_keys`` (which re-encrypts every row with the new key) and then
dropping the old one.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import models


@lru_cache(maxsize=8)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("KAIROS_ENCRYPTION_KEYS is empty: secrets cannot be stored")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "KAIROS_ENCRYPTION_KEYS must hold url-safe base64 Fernet keys "
            "(generate one with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`)"
        ) from exc


def fernet() -> MultiFernet:
    """The keyring for the current settings (cached per key list, so rotation in tests works)."""
    return _fernet_for(tuple(settings.KAIROS_ENCRYPTION_KEYS))


def encrypt_json(value: dict[str, Any]) -> str:
    return fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict[str, Any]:
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with any key in KAIROS_ENCRYPTION_KEYS; "
            "was a key removed before `rotate_encryption_keys` ran?"
        ) from exc


def rotate_token(token: str) -> str:
    """Re-encrypt one stored value with the newest key."""
    return fernet().rotate(token.encode()).decode()


class EncryptedJSONField(models.TextField):
    """A JSON object of strings, encrypted at rest; never shown by the admin or the API.

    In Python the value is a plain ``dict``; in the database it is a Fernet token. Lookups on the
    content are impossible by design.
    """

    description = "Encrypted JSON object"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", dict)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> dict[str, Any]:
        if not value:
            return {}
        return decrypt_json(value)

    def to_python(self, value: Any) -> dict[str, Any]:
        if value is None or value == "":
            return {}
        if isinstance(value, dict):
            return value
        if isinstance(value, str):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValidationError("Secrets must be a JSON object.", code="invalid") from exc
            if isinstance(parsed, dict):
                return parsed
        raise ValidationError("Secrets must be a JSON object.", code="invalid")

    def get_prep_value(self, value: Any) -> str:
        value = self.to_python(value)
        if not value:
            return ""
        return encrypt_json(value)

    def validate(self, value: Any, model_instance: Any) -> None:
        super().validate(value, model_instance)
        for key, item in self.to_python(value).items():
            if not isinstance(key, str) or not isinstance(item, str):
                raise ValidationError("Every secret must be a string value.", code="invalid")

    def value_to_string(self, obj: Any) -> str:
        # Serialising (dumpdata, fixtures) never writes secrets out in clear.
        return ""
