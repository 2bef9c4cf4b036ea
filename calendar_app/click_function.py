"""A click's lock and INSERT on PostgreSQL, as one function the server plans once.

Why: on PostgreSQL a click takes a transaction-scoped advisory lock on (link, client) and then
inserts, and the INSERT must take its snapshot after the lock is granted, so that it sees the
clicks committed while it waited (calendar_app.tracking.record_click). Sent as two statements in
one message, they could not be prepared, and PostgreSQL parsed and planned the INSERT, with its
two ``EXISTS``, on every click: most of the click's time in the database.

A ``VOLATILE`` PL/pgSQL function takes a fresh snapshot for each statement it runs, so the
INSERT after ``pg_advisory_xact_lock`` still sees what committed while it waited; PL/pgSQL keeps
the INSERT's plan for the connection's life, and the call itself is prepared like any other
statement (config/settings.py). The lock lasts until the commit of the call's transaction.

The INSERT is the same rule as :func:`calendar_app.tracking._insert_sql` (which SQLite runs);
``tests/experiments/test_click_sql.py`` holds whichever runs equal to the rule. Every ``migrate``
(re)creates the function with ``CREATE OR REPLACE`` (calendar_app.apps), so its body follows the
code. A change of its arguments must drop the old signature first.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

NAME = "kairos_record_click"

#: The function's arguments, in order, with their SQL types.
ARGUMENTS = (
    ("p_lock_class", "integer"),
    ("p_lock_key", "integer"),
    ("p_relaxed", "boolean"),  # true: this commit does not wait for the disk
    ("p_link", "bigint"),
    ("p_token", "text"),
    ("p_at", "timestamptz"),
    ("p_visitor", "text"),
    ("p_client", "text"),
    ("p_repeat_after", "timestamptz"),  # a counted click of the visitor after this: a repeat
    ("p_limit_after", "timestamptz"),  # the client's counted clicks after this count to its limit
    ("p_limit_offset", "integer"),  # the limit less one
)

#: The call, each value cast to its argument's type (resolved without guessing).
CALL = f"SELECT {NAME}({', '.join(f'%s::{kind}' for _, kind in ARGUMENTS)})"


def definition(connection: BaseDatabaseWrapper) -> str:
    """``CREATE OR REPLACE FUNCTION`` for the current ``Click`` table."""
    from calendar_app.models import Click

    q = connection.ops.quote_name
    click = Click._meta
    table = q(click.db_table)
    link, token, at, visitor, client, counted = (
        q(click.get_field(name).column)
        for name in ("link", "token", "clicked_at", "visitor_hash", "client_hash", "is_counted")
    )
    arguments = ", ".join(f"{name} {kind}" for name, kind in ARGUMENTS)
    return f"""
CREATE OR REPLACE FUNCTION {NAME}({arguments}) RETURNS void
LANGUAGE plpgsql VOLATILE AS $kairos$
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock_class, p_lock_key);
    IF p_relaxed THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    INSERT INTO {table} ({link}, {token}, {at}, {visitor}, {client}, {counted})
    SELECT p_link, p_token, p_at, p_visitor, p_client, CASE
        WHEN EXISTS (SELECT 1 FROM {table} WHERE {link} = p_link AND {counted}
            AND {visitor} = p_visitor AND {at} > p_repeat_after) THEN false
        WHEN EXISTS (SELECT 1 FROM {table} WHERE {link} = p_link AND {counted}
            AND {client} = p_client AND {at} > p_limit_after
            LIMIT 1 OFFSET p_limit_offset) THEN false
        ELSE true END;
END
$kairos$"""


def install(connection: BaseDatabaseWrapper) -> bool:
    """Create or replace the function on PostgreSQL; False (nothing to do) elsewhere."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(definition(connection))
    return True
