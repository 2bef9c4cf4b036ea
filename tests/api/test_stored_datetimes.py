"""Date-times read without the slow conversions: as stored on SQLite (``AsStored``, parsed only
when needed) and by psycopg's C loader on PostgreSQL (``calendar_app.sql.pg_datetimes``). Both
give exactly the value Django's own path gives, zone object included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django import db
from django.db import connection, connections
from django.db.backends.postgresql.psycopg_any import register_tzloader
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import postgres
from psycopg.pq import Format

from calendar_app.calendar_view import _EVENT_COLUMNS, _EVENT_ROWS
from calendar_app.models import Event
from calendar_app.sql.as_stored import AsStored
from tests import factories as f

pytestmark = pytest.mark.django_db

ZONES = ["UTC", "Europe/Paris", "America/Los_Angeles", "Australia/Lord_Howe", "Asia/Kathmandu"]

#: Any instant a timestamptz holds that Python can show, in zones with odd offsets and DST.
instants = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
) | st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([ZoneInfo(zone) for zone in ZONES]),
)
#: What an event may hold (``Event.check_timing``), DST gaps and folds included.
event_instants = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(2199, 12, 1),
    timezones=st.sampled_from([ZoneInfo(zone) for zone in ZONES]),
)

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the loader is PostgreSQL's"
)


# --- AsStored -----------------------------------------------------------------------------------


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    starts=event_instants,
    length=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=9)),
)
def test_a_column_read_as_stored_converts_to_the_columns_value(starts, length):
    starts = starts.astimezone(UTC)  # an instant (a time in a DST gap compares unequal)
    event = f.EventFactory(starts_at=starts, ends_at=starts + length)
    plain, stored = (
        Event.objects.filter(pk=event.pk)
        .annotate(stored=AsStored("starts_at"))
        .values_list("starts_at", "stored")
        .get()
    )
    assert stored == plain == starts
    assert type(stored) is datetime and stored.tzinfo is plain.tzinfo


def test_on_sqlite_a_column_read_as_stored_comes_as_text():
    if connection.vendor != "sqlite":
        pytest.skip("only SQLite's driver parses by the declared type")
    event = f.EventFactory(starts_at=datetime(2027, 3, 28, 0, 59, 59, 999_999, tzinfo=UTC))
    sql, params = (
        Event.objects.filter(pk=event.pk)
        .annotate(stored=AsStored("starts_at"))
        .values_list("starts_at", "stored")
        .query.sql_with_params()
    )
    assert '+"calendar_app_event"."starts_at"' in sql
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        parsed, stored = cursor.fetchone()
    assert isinstance(parsed, datetime)
    assert stored == "2027-03-28 00:59:59.999999"


def test_the_calendar_keys_its_events_on_stored_rows_and_converts_them_as_the_orm():
    """The events' rows key what the calendar keeps: text on SQLite, where parsing them on
    every request cost more than the key; converted, they are the ORM's rows."""
    workspace = f.WorkspaceFactory()
    start = datetime(2027, 3, 1, tzinfo=UTC)
    for n in range(4):
        f.EventFactory(
            workspace=workspace if n % 2 else None,
            starts_at=start + timedelta(days=n, microseconds=n),
            ends_at=start + timedelta(days=n, hours=3),
            time_zone="Europe/Paris",
        )
    end = start + timedelta(days=30)
    raw, convert = _EVENT_ROWS.fetch(workspace.pk, start, end)
    assert _EVENT_ROWS._prepared["default"] is not None  # compiled, not the ORM's
    expected = _EVENT_ROWS._build(workspace.pk, start, end)
    assert sorted(convert(raw)) == sorted(expected)
    kinds = {type(value) for row in raw for value in row[-2:]}
    assert kinds == ({str} if connection.vendor == "sqlite" else {datetime})
    assert _EVENT_COLUMNS[-2:] == ("stored_starts_at", "stored_ends_at")


# --- PostgreSQL: psycopg's C loader -------------------------------------------------------------

TIMESTAMPTZ = postgres.types["timestamptz"].oid


def _fetch(sql: str, params: list, *, djangos: bool) -> list:
    with connection.cursor() as cursor:
        if djangos:  # the loader Django registers on its connections
            register_tzloader(connection.timezone, cursor.cursor)
        cursor.execute(sql, params)
        return cursor.fetchall()


@needs_postgresql
def test_postgresql_connections_load_date_times_with_psycopgs_loader():
    from calendar_app.sql.pg_datetimes import UtcTimestamptzLoader

    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ, Format.TEXT)
    assert loader is UtcTimestamptzLoader
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        (now,) = cursor.fetchone()
        # Django's own loader was not put back on the cursor (it compares the zones).
        assert type(cursor.cursor._tx.get_loader(TIMESTAMPTZ, Format.TEXT)) is UtcTimestamptzLoader
    assert now.tzinfo is UTC
    if psycopg.pq.__impl__ != "python":
        fast = psycopg.adapters.get_loader(TIMESTAMPTZ, Format.TEXT)
        assert type(UtcTimestamptzLoader(TIMESTAMPTZ).load.__self__) is fast


@needs_postgresql
@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.none() | instants, min_size=1, max_size=6))
def test_postgresql_date_times_are_djangos(values):
    sql = "SELECT " + ", ".join(["%s::timestamptz"] * len(values))
    ours, djangos = _fetch(sql, values, djangos=False), _fetch(sql, values, djangos=True)
    assert ours == djangos
    for mine, theirs, sent in zip(ours[0], djangos[0], values, strict=True):
        assert mine == (None if sent is None else sent.astimezone(UTC))
        if sent is not None:
            assert mine.tzinfo is theirs.tzinfo is UTC
            assert repr(mine) == repr(theirs)


@needs_postgresql
@pytest.mark.parametrize("value", ["infinity", "-infinity", "0044-03-15 12:00:00+00 BC"])
def test_postgresql_date_times_python_cannot_hold_fail_as_djangos(value):
    sql = "SELECT %s::timestamptz"
    failures = []
    for djangos in (True, False):
        with pytest.raises((psycopg.DataError, db.DataError)) as failed:
            _fetch(sql, [value], djangos=djangos)
        failures.append(str(failed.value))
    assert failures[0] == failures[1]


@needs_postgresql
def test_a_connection_with_another_zone_keeps_djangos_loader():
    """Django makes date-times aware in the database's ``TIME_ZONE`` when one is set: psycopg's
    loader is for UTC only, so such a connection keeps Django's."""
    from calendar_app.sql.pg_datetimes import UtcTimestamptzLoader

    paris = connections["default"].__class__(
        {**connection.settings_dict, "TIME_ZONE": "Europe/Paris"}, alias="paris"
    )
    try:
        with paris.cursor() as cursor:
            cursor.execute("SELECT %s::timestamptz", [datetime(2027, 3, 28, 1, 30, tzinfo=UTC)])
            (value,) = cursor.fetchone()
        loader = paris.connection.adapters.get_loader(TIMESTAMPTZ, Format.TEXT)
        assert loader is not UtcTimestamptzLoader
        assert value == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
        assert value.tzinfo == ZoneInfo("Europe/Paris") and value.hour == 3
    finally:
        paris.close()
