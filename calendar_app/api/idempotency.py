"""``Idempotency-Key`` on API POSTs: a repeated call replays the first answer instead of acting
twice (pretix's ``IdempotencyMiddleware``, with a body check, authentication before replay and no
secrets kept).

* Applies to ``POST`` under ``/api/`` carrying the header; the key has 1-255 visible ASCII
  characters, otherwise ``400 invalid_idempotency_key``.
* **Authenticate first.** Before a key is looked up, the call is authenticated and its
  permission checked exactly as the view will (the view's own authenticators and permission
  classes), so a revoked or expired token, a deactivated user, a removed member or a demoted role
  gets the view's own 401/403/404 - never a stored answer. Such a call is not tracked at all.
* **A key belongs to one caller in one workspace**: the token (by id) or the session's user, and
  the workspace named in the URL. Another caller reusing the key acts on its own; a replay is
  served only when the stored record names the same token, user and workspace.
* **No secret is stored.** Fields marked as shown once (:class:`~calendar_app.api.serializers.
  common.ShownOnce`: a new token, a webhook signing secret, a feed URL, a sign-in URL) are
  replaced by ``null`` before the answer is stored; the replay says so with ``Idempotent-Redacted:
  <field>, ...``. An answer that would still hold such a value anywhere else, or that cannot be
  redacted (not JSON), is stored as ``409 secret_shown_once`` instead: refusing beats acting twice
  or keeping the secret.
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
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.urls import Resolver404, resolve
from django.utils import timezone
from rest_framework.exceptions import APIException
from rest_framework.serializers import BaseSerializer, ListSerializer, Serializer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList
from rest_framework.views import APIView

from calendar_app.models import ApiToken, IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
REDACTED_HEADER = "Idempotent-Redacted"
MAX_KEY_LENGTH = 255
TTL = timedelta(hours=24)
IN_FLIGHT_TIMEOUT = timedelta(minutes=2)
RETRY_AFTER_SECONDS = 2
NOT_STORED = frozenset({409, 429, 503})
KEPT_HEADERS = ("Content-Type", "Location", "ETag", "Retry-After", "Allow")
SECRET_NOT_REPLAYED = (
    "This request was already processed. Its answer held a secret that is shown once and is "
    "not kept, so it cannot be replayed: look the resource up, or revoke it and create a new one."
)


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


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent the call, as the view will see it: the token or the user, in which workspace."""

    token_id: int | None
    user_id: int | None
    workspace_id: int | None

    @property
    def credential_hash(self) -> str:
        who = f"token:{self.token_id}" if self.token_id is not None else f"user:{self.user_id}"
        identity = f"{who}|workspace:{self.workspace_id or '-'}"
        return hashlib.sha256(identity.encode()).hexdigest()

    def owns(self, record: IdempotencyRecord) -> bool:
        return (record.token_id, record.user_id, record.workspace_id) == (
            self.token_id,
            self.user_id,
            self.workspace_id,
        )


def authenticated_caller(request: HttpRequest) -> Caller | None:
    """Authenticate and authorise ``request`` the way its DRF view will, without running it.

    ``None`` when the call is not for a DRF view, or when the view would refuse it (401, 403,
    404): the view then answers for itself and nothing is stored or replayed.
    """
    try:
        match = resolve(request.path_info, urlconf=getattr(request, "urlconf", None))
    except Resolver404:
        return None
    view_class = getattr(match.func, "cls", None)
    if view_class is None or not issubclass(view_class, APIView):
        return None
    view = view_class(**getattr(match.func, "initkwargs", {}))
    actions = getattr(match.func, "actions", None)
    if actions is not None:
        view.action_map = actions
    view.args, view.kwargs = match.args, match.kwargs
    view.headers = {}
    view.format_kwarg = None
    try:
        drf_request = view.initialize_request(request, *match.args, **match.kwargs)
        view.request = drf_request
        view.perform_authentication(drf_request)
        view.check_permissions(drf_request)
    except (APIException, Http404, DjangoPermissionDenied):
        return None
    token = drf_request.auth if isinstance(drf_request.auth, ApiToken) else None
    user = drf_request.user
    user_id = user.pk if user is not None and user.is_authenticated else None
    if token is None and user_id is None:
        return None
    workspace = getattr(drf_request, "workspace", None)
    return Caller(
        token_id=token.pk if token is not None else None,
        user_id=user_id,
        workspace_id=workspace.pk if workspace is not None else None,
    )


def _shown_once(field: Any) -> bool:
    return bool(getattr(field, "shown_once", False))


def _redact_serialized(data: Any, serializer: BaseSerializer, path: str, found: dict) -> Any:
    """A copy of ``data`` (as ``serializer`` rendered it) with every shown-once field nulled."""
    if isinstance(serializer, ListSerializer) and isinstance(data, list):
        return [
            _redact_serialized(row, serializer.child, f"{path}[{i}]", found)
            for i, row in enumerate(data)
        ]
    if not isinstance(serializer, Serializer) or not isinstance(data, dict):
        return data
    copy = dict(data)
    for name, field in serializer.fields.items():
        if name not in copy:
            continue
        where = f"{path}.{name}" if path else name
        if _shown_once(field):
            if copy[name] is not None:
                found[where] = copy[name]
            copy[name] = None
        elif isinstance(field, BaseSerializer):
            copy[name] = _redact_serialized(copy[name], field, where, found)
    return copy


def _redact(data: Any, path: str, found: dict) -> Any:
    """Walk an answer's data; wherever a serializer produced a part of it, null its secrets."""
    serializer = getattr(data, "serializer", None)
    if isinstance(data, ReturnDict | ReturnList) and serializer is not None:
        return _redact_serialized(data, serializer, path, found)
    if isinstance(data, dict):
        return {k: _redact(v, f"{path}.{k}" if path else str(k), found) for k, v in data.items()}
    if isinstance(data, list):
        return [_redact(v, f"{path}[{i}]", found) for i, v in enumerate(data)]
    return data


def storable_answer(response: Any) -> tuple[int, bytes, dict[str, str]]:
    """The status, body and extra headers to keep for ``response``: never a shown-once secret.

    An answer without secrets is kept byte for byte. One with secrets is re-encoded with those
    fields nulled; if a secret still shows anywhere (echoed in another field, or an answer that
    is not JSON), the refusal ``409 secret_shown_once`` is kept instead.
    """
    found: dict[str, Any] = {}
    redacted = _redact(getattr(response, "data", None), "", found)
    body = bytes(response.content)
    if not found:
        return response.status_code, body, {}
    refusal = json.dumps({"code": "secret_shown_once", "detail": SECRET_NOT_REPLAYED, "fields": {}})
    if "json" not in response.get("Content-Type", ""):
        return 409, refusal.encode(), {"Content-Type": "application/json"}
    text = json.dumps(redacted, ensure_ascii=False, default=str)
    for value in found.values():
        needle = json.dumps(str(value), ensure_ascii=False)[1:-1]
        if needle and needle in text:
            return 409, refusal.encode(), {"Content-Type": "application/json"}
    return response.status_code, text.encode(), {REDACTED_HEADER: ", ".join(found)}


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
        try:
            body = request.body
        except RequestDataTooBig:
            return self.get_response(request)  # the view answers 413 in the API's shape
        caller = authenticated_caller(request)
        if caller is None:
            return self.get_response(request)  # refused: the view answers 401/403/404 itself
        fingerprint = {
            "method": request.method,
            "path": request.get_full_path()[:1000],
            "body_hash": hashlib.sha256(body).hexdigest(),
        }
        record, answer = self._begin(caller, key, fingerprint)
        if answer is not None:
            return answer
        try:
            response = self.get_response(request)
        except BaseException:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
        self._finish(record, response)
        return response

    def _begin(
        self, caller: Caller, key: str, fingerprint: dict[str, str]
    ) -> tuple[IdempotencyRecord, HttpResponseBase | None]:
        now = timezone.now()
        credential = caller.credential_hash
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    credential_hash=credential,
                    key=key,
                    token_id=caller.token_id,
                    user_id=caller.user_id,
                    workspace_id=caller.workspace_id,
                    in_flight=True,
                    expires_at=now + TTL,
                    **fingerprint,
                )
            return record, None
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(credential_hash=credential, key=key).first()
        if existing is None:  # finished and dropped in between: treat as new
            return self._begin(caller, key, fingerprint)
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
        if not caller.owns(existing):
            # Belt and braces: the hash names the caller, but a replay also needs the stored
            # token, user and workspace to be the caller's own.
            return existing, _error(
                422,
                "idempotency_key_reused",
                f"This {HEADER} belongs to another caller; use a new key.",
            )
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
    def _finish(record: IdempotencyRecord, response: Any) -> None:
        status = response.status_code
        if status >= 500 or status in NOT_STORED or getattr(response, "streaming", False):
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            return
        stored_status, body, extra = storable_answer(response)
        headers = {n: response[n] for n in KEPT_HEADERS if response.has_header(n)}
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            in_flight=False,
            response_status=stored_status,
            response_body=body,
            response_headers={**headers, **extra},
        )
