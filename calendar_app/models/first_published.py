"""``ContentItem.first_published_at``: the first publication time of an item, kept by the database.

Why: the calendar places a published post at its first publication time (calendar_view). Read
with a subquery per row, that placement was most of the calendar's cost on a busy month (three
correlated subqueries per published row, on every request). Stored on the item, it is a column of
the index the calendar already scans.

Why triggers, not Python: publication times are written by several paths (a delivery attempt's
``UPDATE``, a person confirming an unconfirmed post, ``bulk_create`` in imports and seeds, raw
SQL in maintenance), and any path that forgot the copy would misplace a post silently. The
database keeps the invariant instead, whoever writes:

    content_item.first_published_at = MIN(publication.published_at) of its publications

* after a publication is inserted with a time, its time or item changes, or it is deleted, the
  item's value is recomputed (one indexed ``MIN``; the row is written only if the value changes);
* an item written with another value - a stale instance saved by Django, which writes every
  column - gets the true value back, so no save can undo a delivery.

The triggers carry a version in their names (``_v1``): a change of definition gets new names, and
:func:`install` drops the older versions. They are created by migration 0025 and again, if
missing, after every ``migrate`` (a later migration that rebuilds a table on SQLite drops its
triggers with it); ``tests/calendar_feeds/test_first_published.py`` holds the invariant over random
sequences of writes on both databases.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

ITEM = "calendar_app_contentitem"
PUBLICATION = "calendar_app_publication"
VERSION = "v1"

#: The true value for the item with id ``{item}`` (an SQL expression naming the item's id).
_MIN = f"(SELECT MIN(p.published_at) FROM {PUBLICATION} p WHERE p.content_item_id = {{item}})"


def _sqlite_recompute(item: str) -> str:
    value = _MIN.format(item=item)
    return (
        f"UPDATE {ITEM} SET first_published_at = {value} "
        f"WHERE id = {item} AND first_published_at IS NOT {value};"
    )


def _sqlite_triggers() -> dict[str, str]:
    return {
        f"kairos_first_published_pub_insert_{VERSION}": (
            f"AFTER INSERT ON {PUBLICATION} WHEN NEW.published_at IS NOT NULL "
            f"BEGIN {_sqlite_recompute('NEW.content_item_id')} END"
        ),
        f"kairos_first_published_pub_update_{VERSION}": (
            f"AFTER UPDATE OF published_at, content_item_id ON {PUBLICATION} "
            "WHEN NEW.published_at IS NOT OLD.published_at "
            "OR NEW.content_item_id IS NOT OLD.content_item_id "
            f"BEGIN {_sqlite_recompute('NEW.content_item_id')} "
            f"{_sqlite_recompute('OLD.content_item_id')} END"
        ),
        f"kairos_first_published_pub_delete_{VERSION}": (
            f"AFTER DELETE ON {PUBLICATION} WHEN OLD.published_at IS NOT NULL "
            f"BEGIN {_sqlite_recompute('OLD.content_item_id')} END"
        ),
        # SQLite cannot change NEW in a BEFORE trigger: put the true value back after the write
        # (recursive triggers are off, so this UPDATE does not fire the trigger again).
        f"kairos_first_published_item_insert_{VERSION}": (
            f"AFTER INSERT ON {ITEM} WHEN NEW.first_published_at IS NOT NULL "
            f"BEGIN {_sqlite_recompute('NEW.id')} END"
        ),
        f"kairos_first_published_item_update_{VERSION}": (
            f"AFTER UPDATE OF first_published_at ON {ITEM} "
            f"WHEN NEW.first_published_at IS NOT {_MIN.format(item='NEW.id')} "
            f"BEGIN {_sqlite_recompute('NEW.id')} END"
        ),
    }


_PG_PUBLICATION_FUNCTION = f"""
CREATE OR REPLACE FUNCTION kairos_first_published_pub_{VERSION}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        UPDATE {ITEM} SET first_published_at = {_MIN.format(item="NEW.content_item_id")}
        WHERE id = NEW.content_item_id
          AND first_published_at IS DISTINCT FROM {_MIN.format(item="NEW.content_item_id")};
    END IF;
    IF TG_OP = 'DELETE' OR OLD.content_item_id IS DISTINCT FROM NEW.content_item_id THEN
        UPDATE {ITEM} SET first_published_at = {_MIN.format(item="OLD.content_item_id")}
        WHERE id = OLD.content_item_id
          AND first_published_at IS DISTINCT FROM {_MIN.format(item="OLD.content_item_id")};
    END IF;
    RETURN NULL;
END
$$;
"""

_PG_ITEM_FUNCTION = f"""
CREATE OR REPLACE FUNCTION kairos_first_published_item_{VERSION}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.first_published_at := {_MIN.format(item="NEW.id")};
    RETURN NEW;
END
$$;
"""


def _pg_triggers() -> dict[str, str]:
    pub = f"EXECUTE FUNCTION kairos_first_published_pub_{VERSION}()"
    item = f"EXECUTE FUNCTION kairos_first_published_item_{VERSION}()"
    return {
        f"kairos_first_published_pub_insert_{VERSION}": (
            f"AFTER INSERT ON {PUBLICATION} FOR EACH ROW WHEN (NEW.published_at IS NOT NULL) {pub}"
        ),
        f"kairos_first_published_pub_update_{VERSION}": (
            f"AFTER UPDATE OF published_at, content_item_id ON {PUBLICATION} FOR EACH ROW "
            "WHEN (NEW.published_at IS DISTINCT FROM OLD.published_at "
            f"OR NEW.content_item_id IS DISTINCT FROM OLD.content_item_id) {pub}"
        ),
        f"kairos_first_published_pub_delete_{VERSION}": (
            f"AFTER DELETE ON {PUBLICATION} FOR EACH ROW WHEN (OLD.published_at IS NOT NULL) {pub}"
        ),
        # Before the write: the row is stored with the true value at once.
        f"kairos_first_published_item_insert_{VERSION}": (
            f"BEFORE INSERT ON {ITEM} FOR EACH ROW WHEN (NEW.first_published_at IS NOT NULL) {item}"
        ),
        f"kairos_first_published_item_update_{VERSION}": (
            f"BEFORE UPDATE OF first_published_at ON {ITEM} FOR EACH ROW "
            f"WHEN (NEW.first_published_at IS DISTINCT FROM OLD.first_published_at) {item}"
        ),
    }


def trigger_names() -> list[str]:
    return list(_sqlite_triggers())


def installed(connection: BaseDatabaseWrapper) -> set[str]:
    """Names of this module's triggers present in the database (any version)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                "AND tgname LIKE 'kairos_first_published_%%'"
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND name LIKE 'kairos_first_published_%'"
            )
        return {name for (name,) in cursor.fetchall()}


def install(connection: BaseDatabaseWrapper) -> list[str]:
    """Create the triggers missing from the database, drop older versions; the names created."""
    if connection.vendor not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"no first_published_at triggers for {connection.vendor}")
    if not _has_column(connection):  # migrated back before 0025
        return []
    present = installed(connection)
    wanted = _pg_triggers() if connection.vendor == "postgresql" else _sqlite_triggers()
    _drop(connection, present - set(wanted))
    created = []
    with connection.cursor() as cursor:
        missing = {name: body for name, body in wanted.items() if name not in present}
        if missing and connection.vendor == "postgresql":
            cursor.execute(_PG_PUBLICATION_FUNCTION)
            cursor.execute(_PG_ITEM_FUNCTION)
        for name, body in missing.items():
            cursor.execute(f"CREATE TRIGGER {name} {body}")
            created.append(name)
    return created


def _has_column(connection: BaseDatabaseWrapper) -> bool:
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        if ITEM not in tables or PUBLICATION not in tables:
            return False
        columns = connection.introspection.get_table_description(cursor, ITEM)
    return any(column.name == "first_published_at" for column in columns)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    """Drop every version of the triggers (the migration's reverse)."""
    _drop(connection, installed(connection))


def _drop(connection: BaseDatabaseWrapper, names: set[str]) -> None:
    with connection.cursor() as cursor:
        for name in sorted(names):
            if connection.vendor == "postgresql":
                table = ITEM if "_item_" in name else PUBLICATION
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


#: Sets every item's value from its publications (the migration's backfill; also a repair).
RECOMPUTE_ALL = (
    f"UPDATE {ITEM} SET first_published_at = "
    f"(SELECT MIN(p.published_at) FROM {PUBLICATION} p WHERE p.content_item_id = {ITEM}.id)"
)
