"""A click on PostgreSQL (the link read, the lock, the INSERT) as one function the server plans
once.

Why: on PostgreSQL a click takes a transaction-scoped advisory lock on (link, client) and then
inserts, and the INSERT must take its snapshot after the lock is granted, so that it sees the
clicks committed while it waited (calendar_app.tracking.record_click). Sent as two statements in
one message, they could not be prepared, and PostgreSQL parsed and planned the INSERT, with its
two ``EXISTS``, on every click: most of the click's time in the database.

A ``VOLATILE`` PL/pgSQL function takes a fresh snapshot for each statement it runs, so the
INSERT after ``pg_advisory_xact_lock`` still sees what committed while it waited; PL/pgSQL keeps
the INSERT's plan for the connection's life, and the call itself is prepared like any other
statement (config/settings.py). The lock lasts until the commit of the call's transaction. The
link is read by its code in the same call, so a click is one round trip.

The INSERT is the same rule as :func:`calendar_app.tracking._insert_sql` (which SQLite runs);
``tests/experiments/test_click_sql.py`` holds whichever runs equal to the rule. Every ``migrate``
(re)creates the function with ``CREATE OR REPLACE`` (calendar_app.apps), so its body follows the
code, and drops any other signature or former name of it.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

NAME = "kairos_click"

#: Names this function had before: every migrate drops them.
FORMER_NAMES = ("kairos_record_click",)

#: The function's arguments, in order, with their SQL types.
ARGUMENTS = (
    ("p_code", "text"),
    ("p_lock_class", "integer"),
    ("p_relaxed", "boolean"),  # true: this commit does not wait for the disk
    ("p_token", "text"),
    ("p_at", "timestamptz"),
    ("p_visitor", "text"),
    ("p_client", "text"),
    ("p_repeat_after", "timestamptz"),  # a counted click of the visitor after this: a repeat
    ("p_limit_after", "timestamptz"),  # the client's counted clicks after this count to its limit
    ("p_limit_offset", "integer"),  # the limit less one
)

#: The call, each value cast to its argument's type (resolved without guessing). It answers
#: the link's target, or NULL when no link has the code (nothing is recorded then).
CALL = f"SELECT {NAME}({', '.join(f'%s::{kind}' for _, kind in ARGUMENTS)})"


def definition(connection: BaseDatabaseWrapper) -> str:
    """``CREATE OR REPLACE FUNCTION`` for the current ``TrackedLink`` and ``Click`` tables."""
    from calendar_app.models import Click, TrackedLink

    q = connection.ops.quote_name
    links = TrackedLink._meta
    link_table, link_id, code, target = (
        q(links.db_table),
        *(q(links.get_field(name).column) for name in ("id", "code", "target_url")),
    )
    click = Click._meta
    table = q(click.db_table)
    link, token, at, visitor, client, counted = (
        q(click.get_field(name).column)
        for name in ("link", "token", "clicked_at", "visitor_hash", "client_hash", "is_counted")
    )
    arguments = ", ".join(f"{name} {kind}" for name, kind in ARGUMENTS)
    return f"""
CREATE OR REPLACE FUNCTION {NAME}({arguments}) RETURNS text
LANGUAGE plpgsql VOLATILE AS $kairos$
DECLARE
    v_link bigint;
    v_target text;
BEGIN
    SELECT {link_id}, {target} INTO v_link, v_target FROM {link_table} WHERE {code} = p_code;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(p_lock_class, hashtext(v_link::text || ':' || p_client));
    IF p_relaxed THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    INSERT INTO {table} ({link}, {token}, {at}, {visitor}, {client}, {counted})
    SELECT v_link, p_token, p_at, p_visitor, p_client, CASE
        WHEN EXISTS (SELECT 1 FROM {table} WHERE {link} = v_link AND {counted}
            AND {visitor} = p_visitor AND {at} > p_repeat_after) THEN false
        WHEN EXISTS (SELECT 1 FROM {table} WHERE {link} = v_link AND {counted}
            AND {client} = p_client AND {at} > p_limit_after
            LIMIT 1 OFFSET p_limit_offset) THEN false
        ELSE true END;
    RETURN v_target;
END
$kairos$"""


def install(connection: BaseDatabaseWrapper) -> bool:
    """Create or replace the function on PostgreSQL, and drop any other version of it (another
    signature, a former name); False (nothing to do) elsewhere."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(definition(connection))
        cursor.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema() AND p.proname = ANY(%s) "
            "AND p.oid::regprocedure <> %s::regprocedure",
            [[NAME, *FORMER_NAMES], f"{NAME}({', '.join(kind for _, kind in ARGUMENTS)})"],
        )
        for (signature,) in cursor.fetchall():
            cursor.execute(f"DROP FUNCTION IF EXISTS {signature}")
    return True
