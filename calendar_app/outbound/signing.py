"""Standard Webhooks signatures (https://www.standardwebhooks.com/), for senders and receivers.

Every request carries three headers:

* ``webhook-id``: the event's id (``msg_…``), the same for every retry and replay of one event;
  receivers deduplicate on it.
* ``webhook-timestamp``: Unix seconds when this attempt was signed; receivers refuse old ones.
* ``webhook-signature``: space-separated ``v1,<base64>`` entries, each the HMAC-SHA256 of
  ``"{id}.{timestamp}.{body}"`` keyed with the base64-decoded part of a ``whsec_`` secret.
  While a secret is being rotated both the new and the old one sign, and a receiver accepts the
  request when any entry matches a secret it knows.

Pure standard library, so a receiver can copy :func:`verify` as it is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping

__all__ = [
    "SECRET_PREFIX",
    "WebhookVerificationError",
    "generate_secret",
    "sign",
    "signature_headers",
    "verify",
]

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE = 5 * 60


class WebhookVerificationError(Exception):
    """The request is not a valid, recent, signed webhook."""


def generate_secret(nbytes: int = 32) -> str:
    """A new ``whsec_<base64>`` secret (32 random bytes by default; the spec asks for 24-64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(nbytes)).decode("ascii")


def _key(secret: str) -> bytes:
    encoded = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from exc


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{msg_id}.{timestamp}.{body}">``."""
    message = f"{msg_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(_key(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_headers(
    secrets_: Iterable[str], msg_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every secret in ``secrets_``."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": " ".join(sign(s, msg_id, ts, body) for s in secrets_),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> str:
    """Check a received webhook; returns its ``webhook-id``.

    :param headers: the request headers (names in any case).
    :raises WebhookVerificationError: a header is missing, the timestamp is outside
        ``tolerance`` seconds of ``now``, or no signature matches. Digests are compared in
        constant time.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not msg_id or not stamp or not signatures:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is too old or in the future")
    expected = sign(secret, msg_id, timestamp, body).encode()
    for entry in signatures.split():
        if hmac.compare_digest(expected, entry.encode()):
            return msg_id
    raise WebhookVerificationError("no matching signature")
