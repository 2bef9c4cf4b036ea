"""HTTP doors of tracking: the click redirect and the server-to-server conversion endpoint.

Plain Django views rather than DRF: the redirect is the hottest path Kairos serves (no
session, no authentication, no content negotiation), and the conversion endpoint authenticates
by an HMAC over the *raw* body, which must be read before any parser touches it.

Conversion calls (``POST /api/v1/conversions/``) carry three headers:

``X-Kairos-Key``        the public id of one of the workspace's :class:`ConversionKey`
``X-Kairos-Timestamp``  Unix seconds when the call was signed
``X-Kairos-Signature``  ``sha256=`` + hex HMAC-SHA256 of ``"<timestamp>.<raw body>"``

A call signed more than :data:`REPLAY_WINDOW` ago (or ahead) is refused, so a captured request
cannot be replayed later; within the window a replay is harmless because the endpoint is
idempotent by ``event_id``: the same event returns the same response and writes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from calendar_app.client_address import client_address
from calendar_app.models import Click, Conversion, ConversionKey
from calendar_app.tracking import is_prefetch, pass_utm_through, record_click

REPLAY_WINDOW = timedelta(minutes=5)
MAX_BODY_BYTES = 64 * 1024
#: Conversions later than this after their click are not attributed to it.
ATTRIBUTION_WINDOW = timedelta(days=30)
#: Tolerated clock difference between the click (our clock) and the conversion (theirs).
CLOCK_SKEW = timedelta(minutes=5)


# --- the redirect -----------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD"])
def tracked_redirect(request: HttpRequest, code: str) -> HttpResponse:
    """``GET /r/<code>``: count the click, then 302 to the target with ``kc=<click id>``.

    Nobody clicked when:

    * the request is ``HEAD`` (link checkers, some preview fetchers): the same redirect, without
      a click id, and nothing recorded;
    * the browser prefetches (``Sec-Purpose``/``Purpose``/``X-Moz: prefetch``): declined with a
      503 the browser does not keep, so when the person does click, the browser asks again and
      that click is counted (a prefetched redirect could be followed without reaching us).
    """
    if is_prefetch(request.META):
        response = HttpResponse(
            "Prefetch declined.", status=503, content_type="text/plain; charset=utf-8"
        )
        response["Cache-Control"] = "no-store"
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response
    redirect = record_click(
        code,
        ip=client_address(request.META),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:1000],
        record=request.method == "GET",
    )
    if redirect is None:
        return HttpResponse("Unknown link.", status=404, content_type="text/plain")
    response = HttpResponseRedirect(pass_utm_through(redirect.location, request.GET))
    # Every click must reach us: no shared or browser cache may answer in our place.
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


# --- conversions ------------------------------------------------------------------------------


def _error(status: int, code: str, detail: str, errors: dict[str, list[str]] | None = None):
    body: dict[str, Any] = {"code": code, "detail": detail}
    if errors:
        body["fields"] = errors
    return JsonResponse(body, status=status)


def _field_error(field: str, message: str, code: str = "invalid") -> JsonResponse:
    return _error(400, code, f"{field}: {message}", {field: [message]})


def _authenticate(request: HttpRequest, body: bytes) -> ConversionKey | JsonResponse:
    key_id = request.headers.get("X-Kairos-Key", "").strip()
    stamp = request.headers.get("X-Kairos-Timestamp", "").strip()
    signature = request.headers.get("X-Kairos-Signature", "").strip()
    missing = [
        name
        for name, value in (
            ("X-Kairos-Key", key_id),
            ("X-Kairos-Timestamp", stamp),
            ("X-Kairos-Signature", signature),
        )
        if not value
    ]
    if missing:
        return _error(
            401, "signature_missing", f"Sign the call: missing header(s) {', '.join(missing)}."
        )
    try:
        signed_at = int(stamp)
    except ValueError:
        return _error(401, "bad_timestamp", "X-Kairos-Timestamp must be Unix seconds.")
    if abs(time.time() - signed_at) > REPLAY_WINDOW.total_seconds():
        return _error(
            401,
            "stale_timestamp",
            "The signature is too old (or from the future): sign each call when sending it; "
            f"calls are accepted for {int(REPLAY_WINDOW.total_seconds())} seconds.",
        )
    key = ConversionKey.objects.usable().filter(key_id=key_id).first()
    expected = (
        hmac.new(key.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if key is not None
        else ""
    )
    given = signature.removeprefix("sha256=")
    # Same answer for an unknown key and a wrong signature: no probing for valid key ids.
    if key is None or not hmac.compare_digest(expected, given):
        return _error(401, "bad_signature", "The signature does not match the body and key.")
    return key


def _parse(payload: Any) -> dict[str, Any] | JsonResponse:
    if not isinstance(payload, dict):
        return _error(400, "invalid", "The body must be a JSON object.")
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = {}

    event_id = payload.get("event_id")
    if not isinstance(event_id, str) or not event_id.strip():
        errors["event_id"] = ["Required: your unique id for this conversion (a string)."]
    elif len(event_id) > 200:
        errors["event_id"] = ["At most 200 characters."]
    else:
        data["event_id"] = event_id.strip()

    click_id = payload.get("click_id")
    if not isinstance(click_id, str) or not click_id.strip():
        errors["click_id"] = ["Required: the kc parameter the visitor arrived with."]
    elif len(click_id) > 64:
        errors["click_id"] = ["Unknown click id."]
    else:
        data["click_id"] = click_id.strip()

    value = payload.get("value")
    if value is None:
        data["value"] = None
    elif isinstance(value, bool) or not isinstance(value, int | float | str):
        errors["value"] = ["A number such as 19.90."]
    else:
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            errors["value"] = ["A number such as 19.90."]
        else:
            if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
                errors["value"] = ["Between 0 and 999,999,999,999.99."]
            else:
                data["value"] = amount.quantize(Decimal("0.01"))

    currency = payload.get("currency", "")
    if currency in (None, ""):
        data["currency"] = ""
    elif not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        errors["currency"] = ["A three-letter ISO 4217 code such as EUR."]
    else:
        data["currency"] = currency.upper()

    occurred = payload.get("occurred_at")
    if occurred in (None, ""):
        data["occurred_at"] = timezone.now()
    else:
        parsed = None
        if isinstance(occurred, str):
            try:
                parsed = parse_datetime(occurred)
            except ValueError:
                parsed = None
        if parsed is None or parsed.tzinfo is None:
            errors["occurred_at"] = ["An ISO 8601 time with its offset, e.g. 2027-02-14T20:00Z."]
        elif parsed > timezone.now() + CLOCK_SKEW:
            errors["occurred_at"] = ["Cannot be in the future."]
        else:
            data["occurred_at"] = parsed

    if errors:
        first = next(iter(errors))
        return _error(400, "invalid", f"{first}: {errors[first][0]}", errors)
    return data


def _response_body(conversion: Conversion, click_token: str | None) -> dict[str, Any]:
    return {
        "id": conversion.pk,
        "event_id": conversion.external_event_id,
        "click_id": click_token,
        "publication": conversion.publication_id,
        "variant": conversion.variant.key if conversion.variant_id else None,
        "value": None if conversion.value is None else str(conversion.value),
        "currency": conversion.currency,
        "occurred_at": conversion.occurred_at.isoformat(),
    }


def _replay(existing: Conversion, payload_hash: str, click_token: str | None) -> JsonResponse:
    if existing.payload_hash != payload_hash:
        return _error(
            409,
            "event_id_reused",
            "This event_id was already recorded with different content.",
            {"event_id": ["Already used for a different conversion; event ids must be unique."]},
        )
    response = JsonResponse(_response_body(existing, click_token), status=201)
    response["Idempotent-Replayed"] = "true"
    return response


@csrf_exempt
@require_POST
def conversions(request: HttpRequest) -> HttpResponse:
    """``POST /api/v1/conversions/``: record one conversion, attributed to its click."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not (length.isascii() and length.isdigit()) or int(length) > MAX_BODY_BYTES:
        return _error(413, "too_large", f"The body must be at most {MAX_BODY_BYTES} bytes.")
    body = request.body
    key = _authenticate(request, body)
    if isinstance(key, JsonResponse):
        return key
    if b"\\u0000" in body or b"\x00" in body:
        return _error(400, "invalid", "The body contains a null character.")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "malformed_json", "The body is not valid JSON.")
    data = _parse(payload)
    if isinstance(data, JsonResponse):
        return data
    payload_hash = hashlib.sha256(body).hexdigest()

    existing = (
        Conversion.objects.filter(workspace_id=key.workspace_id, external_event_id=data["event_id"])
        .select_related("variant", "click")
        .first()
    )
    if existing is not None:
        return _replay(existing, payload_hash, existing.click.token if existing.click else None)

    click = (
        Click.objects.filter(token=data["click_id"], link__workspace_id=key.workspace_id)
        .select_related("link__variant")
        .first()
    )
    if click is None:
        return _field_error("click_id", "Unknown click id.", "unknown_click")
    if data["occurred_at"] < click.clicked_at - CLOCK_SKEW:
        return _field_error("occurred_at", "Earlier than the click it is attributed to.")
    if data["occurred_at"] > click.clicked_at + ATTRIBUTION_WINDOW:
        days = ATTRIBUTION_WINDOW.days
        return _field_error(
            "occurred_at", f"More than {days} days after the click: outside the attribution window."
        )

    try:
        with transaction.atomic():
            conversion = Conversion.objects.create(
                workspace_id=key.workspace_id,
                click=click,
                publication_id=click.link.publication_id,
                variant=click.link.variant,
                external_event_id=data["event_id"],
                value=data["value"],
                currency=data["currency"],
                occurred_at=data["occurred_at"],
                payload_hash=payload_hash,
            )
    except IntegrityError:  # the same event arrived twice at once: the other call won
        existing = Conversion.objects.select_related("variant").get(
            workspace_id=key.workspace_id, external_event_id=data["event_id"]
        )
        return _replay(existing, payload_hash, click.token)
    ConversionKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    return JsonResponse(_response_body(conversion, click.token), status=201)


def signature_for(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Kairos-Signature`` value for ``body`` (for senders' tests and the docs)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


__all__ = ["conversions", "signature_for", "tracked_redirect"]
