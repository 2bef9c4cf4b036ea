"""Re-encrypt every stored channel secret with the newest key in KAIROS_ENCRYPTION_KEYS."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from calendar_app.fields import rotate_token
from calendar_app.models import Channel


class Command(BaseCommand):
    help = (
        "Re-encrypt channel secrets with the first key of KAIROS_ENCRYPTION_KEYS. Put the new key "
        "first, keep the old ones after it, run this, then drop the old keys."
    )

    def handle(self, *args, **options) -> None:
        table = Channel._meta.db_table
        column = Channel._meta.get_field("secrets").column
        rotated = 0
        with transaction.atomic():
            # Work on the raw tokens: decrypting into dicts and encrypting again would also work,
            # but MultiFernet.rotate keeps the original timestamps and never holds clear text.
            quoted_table, quoted_column = (
                connection.ops.quote_name(table),
                connection.ops.quote_name(column),
            )
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT id, {quoted_column} FROM {quoted_table} WHERE {quoted_column} <> ''"
                )
                rows = cursor.fetchall()
                for pk, token in rows:
                    cursor.execute(
                        f"UPDATE {quoted_table} SET {quoted_column} = %s WHERE id = %s",
                        [rotate_token(token), pk],
                    )
                    rotated += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted the secrets of {rotated} channel(s)."))
