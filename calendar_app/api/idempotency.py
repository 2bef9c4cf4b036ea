"""``Idempotency-Key`` on API POSTs: a repeated call replays the first answer instead of acting
twice (pretix's ``IdempotencyMiddleware``, with a body check added).

* Applies to ``POST`` under ``/api/`` carrying the header; the key has 1-255 visible ASCII
  characters, otherwise ``400 invalid_idempotency_key``.
* A key belongs to one credential: a hash of the ``Authorization`` header, or of the session
  and user. Two integrations never share keys; a request without credentials is not tracked.
* The first call stores an in-flight marker, runs, then stores its answer - unless the status is
  5xx, 409, 429 or 503, which are meant to be retried (the marker is then dropped).
* A repeat while the first still runs: ``409 idempotency_in_flight`` with ``Retry-After``.
* A repeat with the same method, path and body: the stored answer, with ``Idempotent-Replayed:
  true``. With anything different: ``422 idempotency_key_reused``.
* Records expire after :data:`TTL` (the webhook sweep deletes them). A marker left by a crashed
  process is taken over after :data:`IN_FLIGHT_TIMEOUT`.

Install it right after ``AuthenticationMiddleware`` (it reads ``request.user`` and the session).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone

from calendar_app.models import IdempotencyRecord, Workspace

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
TTL = timedelta(hours=24)
IN_FLIGHT_TIMEOUT = timedelta(minutes=2)
RETRY_AFTER_SECONDS = 2
NOT_STORED = frozenset({409, 429, 503})
KEPT_HEADERS = ("Content-Type", "Location", "ETag", "Retry-After", "Allow")


def _error(status: int, code: str, detail: str, **headers: str) -> HttpResponse:
    fields = {HEADER: [detail]} if status == 400 else {}
    response = HttpResponse(
        json.dumps({"code": code, "detail": detail, "fields": fields}),
        status=status,
        content_type="application/json",
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def credential_hash(request: HttpRequest) -> str | None:
    """A hash naming who is calling, or ``None`` when nobody is (the call will be refused)."""
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    if authorization:
        identity = "auth:" + authorization
    else:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        session = getattr(request, "session", None)
        identity = f"session:{getattr(session, 'session_key', '') or ''}:{user.pk}"
    return hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()


def valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and all(32 <= ord(c) < 127 for c in key)


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST" or not request.path.startswith("/api/"):
            return self.get_response(request)
        if not valid_key(key):
            return _error(
                400,
                "invalid_idempotency_key",
                f"The {HEADER} header must have 1 to {MAX_KEY_LENGTH} visible ASCII characters.",
            )
        credential = credential_hash(request)
        if credential is None:
            return self.get_response(request)  # unauthenticated: the view answers 401
        try:
            body = request.body
        except RequestDataTooBig:
            return self.get_response(request)  # the view answers 413 in the API's shape
        fingerprint = {
            "method": request.method,
            "path": request.get_full_path()[:1000],
            "body_hash": hashlib.sha256(body).hexdigest(),
        }
        record, answer = self._begin(credential, key, fingerprint)
        if answer is not None:
            return answer
        try:
            response = self.get_response(request)
        except BaseException:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
        self._finish(record, request, response)
        return response

    def _begin(
        self, credential: str, key: str, fingerprint: dict[str, str]
    ) -> tuple[IdempotencyRecord, HttpResponseBase | None]:
        now = timezone.now()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    credential_hash=credential,
                    key=key,
                    in_flight=True,
                    expires_at=now + TTL,
                    **fingerprint,
                )
            return record, None
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(credential_hash=credential, key=key).first()
        if existing is None:  # finished and dropped in between: treat as new
            return self._begin(credential, key, fingerprint)
        if existing.expires_at <= now or (
            existing.in_flight and existing.created_at <= now - IN_FLIGHT_TIMEOUT
        ):
            # Expired, or left in flight by a crashed process: take it over (one winner).
            taken = IdempotencyRecord.objects.filter(
                pk=existing.pk, in_flight=existing.in_flight, expires_at=existing.expires_at
            ).update(
                in_flight=True,
                created_at=now,
                expires_at=now + TTL,
                response_status=None,
                response_body=b"",
                response_headers={},
                **fingerprint,
            )
            if taken:
                existing.refresh_from_db()
                return existing, None
            existing.refresh_from_db()
        if any(getattr(existing, name) != value for name, value in fingerprint.items()):
            return existing, _error(
                422,
                "idempotency_key_reused",
                f"This {HEADER} was already used for a different request "
                f"({existing.method} {existing.path}); use a new key for a new request.",
            )
        if existing.in_flight:
            return existing, _error(
                409,
                "idempotency_in_flight",
                f"A request with this {HEADER} is still being processed; try again shortly.",
                Retry_After=str(RETRY_AFTER_SECONDS),
            )
        return existing, self._replay(existing)

    @staticmethod
    def _replay(record: IdempotencyRecord) -> HttpResponse:
        response = HttpResponse(bytes(record.response_body), status=record.response_status)
        for name, value in record.response_headers.items():
            response[name] = value
        response[REPLAYED_HEADER] = "true"
        return response

    @staticmethod
    def _finish(record: IdempotencyRecord, request: HttpRequest, response: Any) -> None:
        status = response.status_code
        if status >= 500 or status in NOT_STORED or getattr(response, "streaming", False):
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            return
        match = getattr(request, "resolver_match", None)
        slug = match.kwargs.get("workspace_slug") if match else None
        workspace_id = (
            Workspace.objects.filter(slug=slug).values_list("pk", flat=True).first()
            if slug
            else None
        )
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            in_flight=False,
            workspace_id=workspace_id,
            response_status=status,
            response_body=bytes(response.content),
            response_headers={n: response[n] for n in KEPT_HEADERS if response.has_header(n)},
        )
