"""Sessions of Bluesky accounts, kept in process memory per channel.

A session is what ``com.atproto.server.createSession`` gives for a handle and an app password:
a short-lived *access* token (about two hours on Bluesky's servers) and a long-lived *refresh*
token. Logging in for every post would be slow and runs into the login rate limit (30 per five
minutes per account), so the session is kept and renewed with
``com.atproto.server.refreshSession`` shortly before the access token expires - read from the
token's own ``exp`` claim, never guessed.

The refresh token is the session's lifeline: it is replaced only by the one a successful refresh
returns (refresh tokens rotate), never dropped because a refresh failed in transit.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["Session", "SessionStore", "token_expiry"]


def token_expiry(jwt: str) -> float | None:
    """The ``exp`` claim (epoch seconds) of a JWT, read without checking the signature (the
    server checks it; the client only needs to know when to renew)."""
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) else None


@dataclass(frozen=True, slots=True)
class Session:
    """One logged-in account."""

    did: str
    handle: str
    access_jwt: str
    refresh_jwt: str

    @property
    def access_expires(self) -> float | None:
        return token_expiry(self.access_jwt)

    @property
    def refresh_expires(self) -> float | None:
        return token_expiry(self.refresh_jwt)

    @classmethod
    def from_answer(cls, data: dict[str, Any]) -> Session:
        return cls(
            did=str(data["did"]),
            handle=str(data.get("handle") or ""),
            access_jwt=str(data["accessJwt"]),
            refresh_jwt=str(data["refreshJwt"]),
        )


class SessionStore:
    """Sessions by channel, with one lock per channel so that two threads delivering to the same
    channel do not both log in or both spend the same refresh token."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[tuple[str, ...], Session] = {}
        self._locks: dict[tuple[str, ...], threading.Lock] = {}

    @staticmethod
    def key(channel_id: str, service: str, identifier: str, password: str) -> tuple[str, ...]:
        """A new app password (a reconnect) means a new session, so its digest is in the key."""
        digest = hashlib.sha256(password.encode()).hexdigest()[:16]
        return (channel_id, service.rstrip("/"), identifier.lower(), digest)

    def lock(self, key: tuple[str, ...]) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, key: tuple[str, ...]) -> Session | None:
        with self._lock:
            return self._sessions.get(key)

    def put(self, key: tuple[str, ...], session: Session) -> None:
        with self._lock:
            self._sessions[key] = session

    def drop(self, key: tuple[str, ...]) -> None:
        with self._lock:
            self._sessions.pop(key, None)
