"""Standard Webhooks signatures: the published test vector, rotation, tampering, tolerance."""

from __future__ import annotations

import base64

import pytest

from calendar_app.outbound.signing import (
    WebhookVerificationError,
    generate_secret,
    sign,
    signature_headers,
    verify,
)

# The example of the Standard Webhooks specification (and of the svix/standardwebhooks libraries).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_matches_the_specification_example():
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE
    headers = signature_headers([SPEC_SECRET], SPEC_ID, SPEC_BODY, timestamp=SPEC_TS)
    assert verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TS + 10) == SPEC_ID


def test_generated_secret_has_the_prefix_and_enough_entropy():
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:])) == 32
    assert generate_secret() != secret


def test_rotation_signs_with_both_and_either_verifies():
    old, new = generate_secret(), generate_secret()
    headers = signature_headers([new, old], "msg_1", b"{}", timestamp=1000)
    assert len(headers["webhook-signature"].split()) == 2
    assert verify(old, headers, b"{}", now=1000) == "msg_1"
    assert verify(new, headers, b"{}", now=1000) == "msg_1"
    with pytest.raises(WebhookVerificationError):
        verify(generate_secret(), headers, b"{}", now=1000)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"body": b'{"x":2}'}, "no matching"),
        ({"id": "msg_other"}, "no matching"),
        ({"now": 1000 + 301}, "too old"),
        ({"now": 1000 - 301}, "too old"),
        ({"drop": "webhook-signature"}, "missing"),
        ({"timestamp": "soon"}, "not an integer"),
    ],
)
def test_tampered_or_stale_requests_are_refused(change, message):
    secret = generate_secret()
    headers = signature_headers([secret], "msg_1", b'{"x":1}', timestamp=1000)
    body = change.get("body", b'{"x":1}')
    if "id" in change:
        headers["webhook-id"] = change["id"]
    if "drop" in change:
        del headers[change["drop"]]
    if "timestamp" in change:
        headers["webhook-timestamp"] = change["timestamp"]
    with pytest.raises(WebhookVerificationError, match=message):
        verify(secret, headers, body, now=change.get("now", 1000))
