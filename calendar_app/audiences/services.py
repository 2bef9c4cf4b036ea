"""What people and systems do to audience lists: add, import, unsubscribe, report bounces.

Rules kept here so the API, the admin and the public unsubscribe page agree:

* An address is stored with its domain lower-cased and compared case-insensitively; a list
  holds it once.
* Nobody is re-subscribed behind their back: adding or importing an address that is already on
  the list (in any status) reports a duplicate and changes nothing.
* Every subscriber carries when and where consent was given; a row without both is refused.
* Unsubscribing is idempotent, needs no login, and keeps the row (status ``unsubscribed``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from calendar_app.audiences.models import AudienceList, Subscriber, SubscriberStatus

#: Largest CSV file accepted (bytes) and most rows in one import.
MAX_CSV_BYTES = 2 * 1024 * 1024
MAX_CSV_ROWS = 50_000
#: Errors listed in full in an import's answer; the rest are counted.
MAX_REPORTED_ERRORS = 200

UNSUBSCRIBE_URL_NAME = "audience-unsubscribe"


class AudienceError(Exception):
    """A request about a list that cannot be honoured (a 400 with a field and a code)."""

    def __init__(self, message: str, *, code: str, field: str = "non_field_errors") -> None:
        super().__init__(message)
        self.code = code
        self.field = field


# --- addresses --------------------------------------------------------------------------------------


def normalise_email(value: object) -> str:
    """The address as stored: trimmed, domain lower-cased. Raises :class:`AudienceError`
    (``invalid_email``) when it is not one deliverable address."""
    if not isinstance(value, str):
        raise AudienceError("An email address must be text.", code="invalid_email", field="email")
    email = value.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise AudienceError(
            f"{email[:80]!r} is not a valid email address.", code="invalid_email", field="email"
        ) from None
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def _on_list(audience: AudienceList, emails: Iterable[str]) -> set[str]:
    """The lower-cased addresses of ``emails`` already on ``audience`` (in any status)."""
    wanted = {e.lower() for e in emails}
    found: set[str] = set()
    chunk = list(wanted)
    for start in range(0, len(chunk), 500):
        found.update(
            Subscriber.objects.filter(audience=audience)
            .annotate(low=Lower("email"))
            .filter(low__in=chunk[start : start + 500])
            .values_list("low", flat=True)
        )
    return found


def add_subscriber(
    audience: AudienceList,
    *,
    email: str,
    name: str = "",
    consent_at: datetime | None,
    consent_source: str,
) -> Subscriber:
    """Add one address with its consent; a duplicate raises ``duplicate`` (nothing changes)."""
    email = normalise_email(email)
    if consent_at is None or not str(consent_source or "").strip():
        raise AudienceError(
            "Consent time and consent source are both required.",
            code="missing_consent",
            field="consent_at" if consent_at is None else "consent_source",
        )
    if consent_at > timezone.now() + timedelta(days=1):
        raise AudienceError(
            "Consent cannot be given in the future.", code="invalid_consent_at", field="consent_at"
        )
    if _on_list(audience, [email]):
        raise AudienceError(f"{email} is already on this list.", code="duplicate", field="email")
    return Subscriber.objects.create(
        workspace_id=audience.workspace_id,
        audience=audience,
        email=email,
        name=name.strip(),
        consent_at=consent_at,
        consent_source=consent_source.strip()[:200],
    )


def set_status(subscriber: Subscriber, status: str, reason: str = "") -> bool:
    """Move one subscriber to ``status``; ``False`` when it was there already (idempotent)."""
    if subscriber.status == status:
        return False
    now = timezone.now()
    Subscriber.objects.filter(pk=subscriber.pk).update(
        status=status, status_changed_at=now, status_reason=reason[:500], updated_at=now
    )
    subscriber.status, subscriber.status_changed_at, subscriber.status_reason = (
        status,
        now,
        reason[:500],
    )
    return True


def unsubscribe(token: str, *, source: str = "one-click") -> Subscriber | None:
    """Unsubscribe the subscriber holding ``token``; ``None`` when no one does. Idempotent;
    a bounced or complained address keeps that (stronger) status."""
    subscriber = Subscriber.objects.filter(unsubscribe_token=token).first()
    if subscriber is None:
        return None
    if subscriber.status == SubscriberStatus.SUBSCRIBED:
        set_status(subscriber, SubscriberStatus.UNSUBSCRIBED, f"Unsubscribed ({source}).")
    return subscriber


FEEDBACK_STATUS = {"bounce": SubscriberStatus.BOUNCED, "complaint": SubscriberStatus.COMPLAINED}


def record_feedback(
    workspace, email: str, kind: str, reason: str = "", audience: AudienceList | None = None
) -> int:
    """A bounce or a complaint (spam report) for ``email`` reported after the send, by the
    SMTP provider's feedback loop: every list of the workspace (or only ``audience``) stops
    sending to it. Returns how many subscriber rows changed."""
    email = normalise_email(email)
    status = FEEDBACK_STATUS[kind]
    rows = Subscriber.objects.filter(workspace=workspace).annotate(low=Lower("email"))
    rows = rows.filter(low=email.lower())
    if audience is not None:
        rows = rows.filter(audience=audience)
    if kind == "bounce":  # a complaint is stronger than a bounce, never the reverse
        rows = rows.exclude(status=SubscriberStatus.COMPLAINED)
    now = timezone.now()
    return Subscriber.objects.filter(pk__in=list(rows.values_list("pk", flat=True))).update(
        status=status,
        status_changed_at=now,
        status_reason=(reason or f"{kind} reported by the mail provider")[:500],
        updated_at=now,
    )


def unsubscribe_url(token: str) -> str:
    """The public one-click unsubscribe URL for a subscriber's token (RFC 8058).

    Built on ``KAIROS_UNSUBSCRIBE_BASE_URL``, else ``KAIROS_TRACKING_BASE_URL`` (the
    deployment's public address); empty when neither is set, and then nothing can be sent.
    """
    base = settings.KAIROS_UNSUBSCRIBE_BASE_URL or settings.KAIROS_TRACKING_BASE_URL
    if not base:
        return ""
    try:
        path = reverse(UNSUBSCRIBE_URL_NAME, kwargs={"token": token})
    except NoReverseMatch:
        path = f"/u/{token}/"
    return base.rstrip("/") + path


# --- CSV import -------------------------------------------------------------------------------------


@dataclass
class RowError:
    row: int  # 1-based line number in the file, the header being line 1
    field: str
    code: str
    message: str

    def to_dict(self) -> dict:
        return {"row": self.row, "field": self.field, "code": self.code, "message": self.message}


@dataclass
class ImportResult:
    rows: int = 0
    valid: int = 0
    created: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False

    @property
    def error_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for error in self.errors:
            counts[error.code] = counts.get(error.code, 0) + 1
        return counts

    def to_dict(self) -> dict:
        return {
            "rows": self.rows,
            "valid": self.valid,
            "created": self.created,
            "skipped": len(self.errors),
            "dry_run": self.dry_run,
            "error_counts": self.error_counts,
            "errors": [e.to_dict() for e in self.errors[:MAX_REPORTED_ERRORS]],
            "errors_truncated": len(self.errors) > MAX_REPORTED_ERRORS,
        }


EMAIL_HEADERS = ("email", "email_address", "e-mail", "mail")
NAME_HEADERS = ("name", "full_name")
CONSENT_AT_HEADERS = ("consent_at", "consent_time", "consented_at")
CONSENT_SOURCE_HEADERS = ("consent_source", "source")


def _column(headers: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in headers:
            return headers.index(name)
    return None


def _parse_consent_at(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        moment = parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None:
        try:
            day = parse_date(value)
        except ValueError:
            day = None
        if day is None:
            raise ValueError(value)
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment > timezone.now() + timedelta(days=1):
        raise ValueError(value)
    return moment


def _decode(data: bytes) -> str:
    if len(data) > MAX_CSV_BYTES:
        raise AudienceError(
            f"The file is larger than {MAX_CSV_BYTES} bytes.", code="too_large", field="file"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AudienceError(
            "The file is not UTF-8 text; export the CSV as UTF-8.", code="not_utf8", field="file"
        ) from None
    if "\x00" in text:
        raise AudienceError("The file is not a CSV text file.", code="not_csv", field="file")
    return text


def import_csv(
    audience: AudienceList,
    data: bytes,
    *,
    default_consent_source: str = "",
    default_consent_at: datetime | None = None,
    dry_run: bool = False,
) -> ImportResult:
    """Import subscribers from a CSV file with a header row.

    Columns: ``email`` (required), ``name``, ``consent_at`` (ISO 8601 date or date-time; naive
    means UTC) and ``consent_source``; the defaults fill empty consent cells. Each bad row is
    reported (``invalid_email``, ``duplicate`` - on the list already or earlier in the file -,
    ``missing_consent``, ``invalid_consent_at``) and skipped; the good rows are written in one
    transaction. A file that is not a readable CSV with an email column raises
    :class:`AudienceError` and writes nothing.
    """
    text = _decode(data)
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise AudienceError(
            f"The file is not valid CSV: {exc}.", code="not_csv", field="file"
        ) from None
    if not rows:
        raise AudienceError("The file is empty.", code="empty_file", field="file")
    if len(rows) - 1 > MAX_CSV_ROWS:
        raise AudienceError(
            f"The file has more than {MAX_CSV_ROWS} rows; split it.",
            code="too_many_rows",
            field="file",
        )
    headers = [h.strip().lower() for h in rows[0]]
    email_col = _column(headers, EMAIL_HEADERS)
    if email_col is None:
        raise AudienceError(
            "The first row must name the columns, one of them 'email'.",
            code="missing_email_column",
            field="file",
        )
    name_col = _column(headers, NAME_HEADERS)
    at_col = _column(headers, CONSENT_AT_HEADERS)
    source_col = _column(headers, CONSENT_SOURCE_HEADERS)

    def cell(row: list[str], col: int | None) -> str:
        return row[col].strip() if col is not None and col < len(row) else ""

    result = ImportResult(dry_run=dry_run)
    candidates: list[tuple[int, str, str, datetime, str]] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue  # blank lines are not rows
        result.rows += 1
        try:
            email = normalise_email(cell(row, email_col))
        except AudienceError as exc:
            result.errors.append(RowError(line, "email", exc.code, str(exc)))
            continue
        if email.lower() in seen:
            result.errors.append(
                RowError(
                    line,
                    "email",
                    "duplicate",
                    f"{email} already appears on row {seen[email.lower()]}.",
                )
            )
            continue
        seen[email.lower()] = line
        try:
            consent_at = _parse_consent_at(cell(row, at_col)) or default_consent_at
        except ValueError:
            result.errors.append(
                RowError(
                    line,
                    "consent_at",
                    "invalid_consent_at",
                    f"{cell(row, at_col)[:40]!r} is not an ISO 8601 date or time in the past.",
                )
            )
            continue
        source = cell(row, source_col) or default_consent_source.strip()
        if consent_at is None or not source:
            missing = "consent_at" if consent_at is None else "consent_source"
            result.errors.append(
                RowError(
                    line,
                    missing,
                    "missing_consent",
                    "Every subscriber needs a consent time and a consent source.",
                )
            )
            continue
        candidates.append((line, email, cell(row, name_col)[:200], consent_at, source[:200]))

    already = _on_list(audience, [c[1] for c in candidates])
    fresh = []
    for line, email, name, consent_at, source in candidates:
        if email.lower() in already:
            result.errors.append(
                RowError(line, "email", "duplicate", f"{email} is already on this list.")
            )
            continue
        fresh.append(
            Subscriber(
                workspace_id=audience.workspace_id,
                audience=audience,
                email=email,
                name=name,
                consent_at=consent_at,
                consent_source=source,
            )
        )
    result.errors.sort(key=lambda e: e.row)
    result.valid = len(fresh)
    if not dry_run:
        with transaction.atomic():
            Subscriber.objects.bulk_create(fresh, batch_size=1000)
        result.created = len(fresh)
    return result
