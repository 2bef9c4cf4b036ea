"""Bulk import of content items from CSV or JSON rows: check every row, then all or nothing.

A marketer plans a month in a spreadsheet; this turns its rows into draft items. The same
rows come from a CSV file (the admin's import page, or the API with a multipart ``file``) or as
JSON objects (the API). Every row is checked first, and *every* problem is reported by row and
column, so one pass fixes the sheet; only a sheet without problems is written, in one
transaction, with bulk inserts (10,000 rows in a few seconds: ``benchmarks/imports.py``).

Columns (:data:`COLUMNS`): ``brand`` (its slug), ``title``, ``body``, ``channels`` (handles of
the brand's channels separated by spaces, or ``network:handle`` where a handle is on several
networks), ``scheduled_at`` (``YYYY-MM-DD HH:MM`` in the brand's time zone, or an ISO 8601
instant with its offset; empty: not planned yet), ``links`` (URLs separated by spaces),
``cta_text``, ``cta_url``, ``cta_button``. Items are created as drafts: importing never
approves or schedules anything.

Row numbers are a spreadsheet's: in a CSV the header is row 1 and the first item row 2; JSON
rows are numbered from 1.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from calendar_app.models import Brand, Channel, ContentItem, ContentStatus, Workspace
from calendar_app.timeutils import local_to_utc

COLUMNS = (
    "brand",
    "title",
    "body",
    "channels",
    "scheduled_at",
    "links",
    "cta_text",
    "cta_url",
    "cta_button",
)
REQUIRED = ("brand", "title", "body")
MAX_ROWS = 10_000
MAX_CSV_BYTES = 8 * 1024 * 1024
MAX_LINKS = 20
#: The longest text each column takes (the model's limits).
MAX_LENGTH = {
    "brand": 200,
    "title": 200,
    "body": 10_000,
    "channels": 4000,
    "scheduled_at": 40,
    "links": 20_000,
    "cta_text": 200,
    "cta_url": 1000,
    "cta_button": 60,
}
_SPLIT = re.compile(r"[\s,]+")
_url = URLValidator(schemes=["http", "https"])
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Problem:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class Checked:
    """The outcome of checking a sheet: the items ready to write, or the problems."""

    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    items: list[tuple[ContentItem, list[int]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class ImportRefused(Exception):
    """The sheet itself cannot be read (encoding, size, header): one message, on ``field``."""

    def __init__(self, message: str, *, field: str = "file", code: str = "invalid") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


def template_csv(workspace: Workspace) -> str:
    """The downloadable template: the header and one example row from the workspace's data."""
    brand = Brand.objects.filter(workspace=workspace).order_by("pk").first()
    channel = (
        Channel.objects.filter(brand=brand).order_by("pk").first() if brand is not None else None
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerow(
        [
            brand.slug if brand else "your-brand-slug",
            "Spring launch teaser",
            "Something fresh is coming on Monday.",
            channel.handle if channel else "@your-handle",
            "2027-03-01 09:00",
            "https://example.com/spring",
            "See what's new",
            "https://example.com/spring",
            "Discover",
        ]
    )
    return out.getvalue()


def read_csv(data: bytes) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts keyed by the (stripped, lower-cased) header."""
    if len(data) > MAX_CSV_BYTES:
        raise ImportRefused(f"The file is larger than {MAX_CSV_BYTES} bytes.", code="too_large")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused("Save the sheet as CSV in UTF-8.", code="encoding") from None
    if "\x00" in text:
        raise ImportRefused("Null characters are not allowed.", code="null_characters")
    # Spreadsheets save "CSV" with commas, or semicolons where the comma is the decimal mark:
    # the header (plain column names) says which.
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportRefused("The file is empty: start from the template.", code="empty") from None
    except csv.Error as exc:
        raise ImportRefused(f"Not a CSV file: {exc}.") from None
    names = [name.strip().lower() for name in header]
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise ImportRefused(
            f"Unknown columns: {', '.join(unknown)}. The columns are: {', '.join(COLUMNS)}.",
            code="unknown_columns",
        )
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        raise ImportRefused(f"Missing columns: {', '.join(missing)}.", code="missing_columns")
    rows = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                rows.append({})  # a blank line keeps its row number, and is skipped
                continue
            if len(rows) >= MAX_ROWS:
                raise ImportRefused(f"At most {MAX_ROWS} rows per import.", code="too_many_rows")
            row = dict(zip(names, values, strict=False))
            if len(values) > len(names):
                row["__extra__"] = "x"
            rows.append(row)
    except csv.Error as exc:
        raise ImportRefused(f"Row {reader.line_num}: not valid CSV ({exc}).") from None
    return rows


class _Lookup:
    """The workspace's brands and channels, read once for the whole sheet."""

    def __init__(self, workspace: Workspace) -> None:
        self.brands = {b.slug: b for b in Brand.objects.filter(workspace=workspace)}
        self.channels: dict[int, dict[str, list[int]]] = {}
        for pk, brand_id, network, handle in Channel.objects.filter(
            workspace=workspace
        ).values_list("pk", "brand_id", "network", "handle"):
            by_name = self.channels.setdefault(brand_id, {})
            by_name.setdefault(handle.lower(), []).append(pk)
            by_name.setdefault(f"{network}:{handle}".lower(), []).append(pk)


def _instant(text: str, brand: Brand) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise ValidationError("Write it as YYYY-MM-DD HH:MM (in the brand's time zone).") from None
    if not 1970 <= value.year <= 2200:
        raise ValidationError("Give a date between 1970 and 2200.")
    return local_to_utc(value, brand.time_zone)


def check_rows(
    workspace: Workspace, rows: Iterable[Mapping[str, Any]], *, first_row: int = 1, user: Any = None
) -> Checked:
    """Check every row; collect every problem by row and column, or the items to create."""
    lookup = _Lookup(workspace)
    checked = Checked()
    for number, raw in enumerate(rows, start=first_row):
        if not raw:
            continue
        checked.rows += 1
        if checked.rows > MAX_ROWS:
            checked.problems.append(Problem(number, "", f"At most {MAX_ROWS} rows per import."))
            break
        problems = checked.problems
        before = len(problems)
        if not isinstance(raw, Mapping):
            problems.append(Problem(number, "", "Each row is an object of column: text."))
            continue
        if "__extra__" in raw:
            problems.append(Problem(number, "", "This row has more cells than the header."))
        row: dict[str, str] = {}
        for name, value in raw.items():
            if name == "__extra__":
                continue
            if name not in COLUMNS:
                problems.append(Problem(number, str(name)[:60], "Not a column of the template."))
                continue
            if value is None:
                value = ""
            if not isinstance(value, str):
                problems.append(Problem(number, name, "Must be text."))
                continue
            if "\x00" in value:
                problems.append(Problem(number, name, "Null characters are not allowed."))
                continue
            if len(value) > MAX_LENGTH[name]:
                problems.append(Problem(number, name, f"At most {MAX_LENGTH[name]} characters."))
                continue
            row[name] = value.strip() if name != "body" else value
        for name in REQUIRED:
            named = any(p.column == name for p in problems[before:])
            if not row.get(name, "").strip() and not named:
                problems.append(Problem(number, name, "Required."))
        brand = lookup.brands.get(row.get("brand", ""))
        if row.get("brand") and brand is None:
            problems.append(
                Problem(number, "brand", f"No brand with the slug “{row['brand'][:60]}”.")
            )
        channel_ids: list[int] = []
        if brand is not None and row.get("channels"):
            names = lookup.channels.get(brand.pk, {})
            for token in _SPLIT.split(row["channels"]):
                if not token:
                    continue
                found = names.get(token.lower(), [])
                if len(found) == 1:
                    channel_ids.append(found[0])
                elif not found:
                    problems.append(
                        Problem(number, "channels", f"“{token[:60]}” is not a channel of {brand}.")
                    )
                else:
                    problems.append(
                        Problem(
                            number,
                            "channels",
                            f"“{token[:60]}” is on several networks: write network:handle.",
                        )
                    )
        scheduled = None
        if brand is not None and row.get("scheduled_at"):
            try:
                scheduled = _instant(row["scheduled_at"], brand)
            except ValidationError as exc:
                problems.append(Problem(number, "scheduled_at", " ".join(exc.messages)))
        links = [u for u in _SPLIT.split(row.get("links", "")) if u]
        if len(links) > MAX_LINKS:
            problems.append(Problem(number, "links", f"At most {MAX_LINKS} links."))
        for name, urls in (("links", links), ("cta_url", [row.get("cta_url", "")])):
            for url in urls:
                if not url:
                    continue
                try:
                    if len(url) > 1000:
                        raise ValidationError("too long")
                    _url(url)
                except ValidationError:
                    problems.append(Problem(number, name, f"“{url[:80]}” is not a web address."))
        if len(problems) > before or brand is None:
            continue
        item = ContentItem(
            workspace=workspace,
            brand=brand,
            title=row["title"],
            body=row["body"],
            links=links,
            cta_text=row.get("cta_text", ""),
            cta_url=row.get("cta_url", ""),
            cta_button=row.get("cta_button", ""),
            scheduled_at=scheduled,
            status=ContentStatus.DRAFT,
            created_by=user,
            last_edited_by=user,
        )
        checked.items.append((item, sorted(set(channel_ids))))
    if not checked.rows and not checked.problems:
        checked.problems.append(Problem(first_row, "", "No rows to import."))
    return checked


@transaction.atomic
def write(checked: Checked) -> list[int]:
    """Create every checked item and its channels (all or nothing); the new ids in row order."""
    if not checked.ok:
        raise ValueError("refusing to write a sheet with problems")
    items = [item for item, _ in checked.items]
    ContentItem.objects.bulk_create(items, batch_size=_BATCH)
    through = ContentItem.channels.through
    links = [
        through(contentitem_id=item.pk, channel_id=channel)
        for item, channels in checked.items
        for channel in channels
    ]
    through.objects.bulk_create(links, batch_size=_BATCH)
    return [item.pk for item in items]
