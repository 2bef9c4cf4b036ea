"""Re-encrypt every stored secret with the newest key in KAIROS_ENCRYPTION_KEYS."""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from calendar_app.fields import EncryptedJSONField, rotate_token


def encrypted_columns() -> list[tuple[str, str]]:
    """(table, column) of every EncryptedJSONField in the project, so no secret is forgotten."""
    return [
        (model._meta.db_table, field.column)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedJSONField)
    ]


class Command(BaseCommand):
    help = (
        "Re-encrypt stored secrets (channel credentials, conversion keys) with the first key of "
        "KAIROS_ENCRYPTION_KEYS. Put the new key first, keep the old ones after it, run this, then "
        "drop the old keys."
    )

    def handle(self, *args, **options) -> None:
        rotated = 0
        quote = connection.ops.quote_name
        # Work on the raw tokens: MultiFernet.rotate re-encrypts without holding clear text in a
        # model instance, and one transaction means a failure leaves every row as it was.
        with transaction.atomic(), connection.cursor() as cursor:
            for table, column in encrypted_columns():
                cursor.execute(
                    f"SELECT id, {quote(column)} FROM {quote(table)} WHERE {quote(column)} <> ''"
                )
                for pk, token in cursor.fetchall():
                    cursor.execute(
                        f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE id = %s",
                        [rotate_token(token), pk],
                    )
                    rotated += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {rotated} stored secret(s)."))
