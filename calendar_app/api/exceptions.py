"""One error shape for every 4xx: ``{"code": "...", "detail": "a sentence", "fields": {...}}``.

Clients branch on ``code`` (stable, snake_case), show ``detail`` to people and put each
``fields`` message next to its input. Domain errors (workflow refusals, model validation, database
constraints, oversized bodies) are mapped here so no bad input ever reaches the 500 handler.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from calendar_app.workflow import WorkflowError


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This conflicts with the current state of the resource."
    default_code = "conflict"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = (
        "The resource changed since you read it (If-Match does not match its ETag). "
        "Read it again and re-apply your change."
    )
    default_code = "precondition_failed"


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class NotAvailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "This action is not available on this server yet."
    default_code = "not_available"


class WorkflowConflict(exceptions.APIException):
    """A refused transition; its ``code`` is the workflow's own (``invalid_transition``, …)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "invalid_transition"


def _workflow_exception(exc: WorkflowError) -> exceptions.APIException:
    if exc.field:
        return _coded_exception(exc.code, exc.reason, exc.field)
    return _coded_exception(exc.code, str(exc), None)


def _coded_exception(code: str, message: str, field: str | None) -> exceptions.APIException:
    """A domain refusal with a stable code: 403, 400 on a field, or 409 for a state conflict."""
    if code == "permission_denied":
        return exceptions.PermissionDenied(message, code=code)
    if field:
        return exceptions.ValidationError({field: [message]}, code=code)
    return WorkflowConflict(message, code=code)


def _domain_errors() -> tuple[type[Exception], ...]:
    """Refusals raised by the reactive and delivery modules (imported lazily: they import the
    plugin framework, which the API must not load at import time)."""
    found: list[type[Exception]] = []
    try:
        from calendar_app.reactive import FireRefused

        found.append(FireRefused)
    except ImportError:  # pragma: no cover - module not installed yet
        pass
    try:
        from calendar_app.delivery import DeliveryActionError

        found.append(DeliveryActionError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(found)


def _translate(exc: Exception) -> Exception:
    """Turn Django and domain exceptions into DRF ones that carry a status code."""
    if isinstance(exc, WorkflowError):
        return _workflow_exception(exc)
    if isinstance(exc, _domain_errors()):
        return _coded_exception(exc.code, str(exc), getattr(exc, "field", None))
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(as_serializer_error(exc))
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        return RequestTooLarge()
    if isinstance(exc, DataError):
        # The database refused a value the validators let through (a number out of range, a
        # character it cannot store): the client's input, so a 400, and the transaction is undone.
        return exceptions.ValidationError(
            {
                "non_field_errors": [
                    "A value cannot be stored as sent (out of range or an invalid character)."
                ]
            }
        )
    if isinstance(exc, IntegrityError):
        return Conflict(
            "This change conflicts with existing data (for example a duplicate name or a row "
            "that is still in use); nothing was saved."
        )
    return exc


def _flatten(data: Any, prefix: str = "") -> dict[str, list[str]]:
    """``{"links": {"0": ["bad"]}}`` becomes ``{"links.0": ["bad"]}``: one level, readable paths."""
    out: dict[str, list[str]] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(data, list) and any(isinstance(v, dict | list) for v in data):
        for index, value in enumerate(data):
            if value:
                out.update(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        messages = data if isinstance(data, list) else [data]
        out.setdefault(prefix or "non_field_errors", []).extend(str(m) for m in messages)
    return out


def _first_code(codes: Any) -> str | None:
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict):
        codes = list(codes.values())
    for value in codes or []:
        found = _first_code(value)
        if found:
            return found
    return None


def error_body(exc: exceptions.APIException) -> dict[str, Any]:
    """The body for ``exc`` in the one shape every client can rely on."""
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        general = fields.pop("non_field_errors", [])
        code = _first_code(exc.get_codes()) or "invalid"
        if len(fields) == 0 and general:
            detail = " ".join(general)
        else:
            detail = "Some fields are not valid; see fields."
            if general:
                fields["non_field_errors"] = general
        return {
            "code": "invalid" if code in {"invalid", "required"} else code,
            "detail": detail,
            "fields": fields,
        }
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    detail = exc.detail
    if isinstance(detail, dict | list):
        fields = _flatten(detail)
        return {
            "code": code,
            "detail": " ".join(m for messages in fields.values() for m in messages),
            "fields": {},
        }
    return {"code": code, "detail": str(detail), "fields": {}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF ``EXCEPTION_HANDLER``: translate, let DRF set headers and roll back, reshape the body."""
    exc = _translate(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django's 500 handling and logging see it
    set_rollback()
    response.data = error_body(exc)
    return response


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 handler: API clients get the API's error shape, people get Django's page."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "not_found", "detail": f"No API endpoint at {request.path}.", "fields": {}},
            status=404,
        )
    return defaults.page_not_found(request, exception)
