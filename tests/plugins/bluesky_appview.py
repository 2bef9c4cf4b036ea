"""A CONTRACT server for Bluesky's post search: a PDS that forwards ``app.bsky.feed.searchPosts``
to an AppView, answering as that pair would. Not Bluesky: an AppView cannot run on loopback.

Written from the public lexicon (bluesky-social/atproto, ``lexicons/app/bsky/feed/
searchPosts.json``): ``q`` is required (400 ``InvalidRequest`` without it); ``sort`` is
``latest`` (the default, newest first) or ``top``; ``since`` is inclusive and ``until`` exclusive
(a datetime or a ``YYYY-MM-DD`` date, compared with the post's sort time, here its
``indexedAt``); ``limit`` is 1..100 (25 by default; 400 outside); ``cursor`` is opaque (here an
offset) and absent on the last page. Results are ``postView`` objects (``uri``, ``cid``,
``author`` as a ``profileViewBasic``, ``record``, ``indexedAt``).

Where it is deliberately loose, as a real search engine is: a query matches any post whose text
contains it anywhere, without regard to case (inside words too), so the plugin's whole-term
filter is exercised. Tests check the ``atproto-proxy`` header on the recorded requests.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from publishers.testing import FakeServer, Reply
from publishers.testing.servers import RecordedRequest

__all__ = ["SearchAppView"]

OWN_DID = "did:plc:brand"
OWN_HANDLE = "brand.bsky.social"


def _jwt(exp: float) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part({'exp': exp})}.sig"


def _when(value: str) -> datetime:
    if len(value) == 10:  # an ISO date
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _error(status: int, name: str, message: str) -> Reply:
    return Reply(status, json={"error": name, "message": message})


@dataclass
class SearchAppView:
    """The posts the AppView has indexed, and the server answering for it."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    clock: datetime = field(default_factory=lambda: datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.server = FakeServer(self.handle)

    def __enter__(self) -> SearchAppView:
        self.server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    def say(
        self, text: str, *, did: str = "did:plc:fan", handle: str = "fan.bsky.social", **record
    ) -> str:
        """Index a post one second after the previous one; returns its URI."""
        with self._lock:
            self.clock += timedelta(seconds=1)
            n = len(self.posts) + 1
            indexed = self.clock.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            uri = f"at://{did}/app.bsky.feed.post/3k{n:010d}"
            self.posts.append(
                {
                    "uri": uri,
                    "cid": f"bafy{n:08d}",
                    "author": {"did": did, "handle": handle, "displayName": handle.split(".")[0]},
                    "record": {
                        "$type": "app.bsky.feed.post",
                        "text": text,
                        "createdAt": indexed,
                        **record,
                    },
                    "indexedAt": indexed,
                }
            )
        return uri

    def searches(self) -> list[RecordedRequest]:
        return [r for r in self.server.requests if r.path.endswith("app.bsky.feed.searchPosts")]

    def handle(self, request: RecordedRequest) -> Reply:
        nsid = request.path.rsplit("/", 1)[-1]
        if nsid == "com.atproto.server.createSession":
            return Reply(
                200,
                json={
                    "did": OWN_DID,
                    "handle": OWN_HANDLE,
                    "accessJwt": _jwt(time.time() + 3600),
                    "refreshJwt": _jwt(time.time() + 86400),
                },
            )
        if nsid == "app.bsky.feed.searchPosts":
            return self._search(request)
        return _error(501, "MethodNotImplemented", f"{nsid} is not part of this contract server")

    def _search(self, request: RecordedRequest) -> Reply:
        params = {k: v[-1] for k, v in request.query.items()}
        q = params.get("q", "").strip()
        if not q:
            return _error(400, "InvalidRequest", 'Error: Params must have the property "q"')
        try:
            limit = int(params.get("limit", "25"))
            since = _when(params["since"]) if params.get("since") else None
            until = _when(params["until"]) if params.get("until") else None
            offset = int(params.get("cursor") or 0)
        except ValueError as exc:
            return _error(400, "InvalidRequest", str(exc))
        if not 1 <= limit <= 100:
            return _error(400, "InvalidRequest", "limit must be between 1 and 100")
        with self._lock:
            hits = [
                p
                for p in self.posts
                if q.lower() in p["record"]["text"].lower()
                and (since is None or _when(p["indexedAt"]) >= since)
                and (until is None or _when(p["indexedAt"]) < until)
            ]
        if params.get("sort", "latest") == "latest":
            hits.sort(key=lambda p: p["indexedAt"], reverse=True)
        page = hits[offset : offset + limit]
        body: dict[str, Any] = {"posts": page, "hitsTotal": len(hits)}
        if offset + limit < len(hits):
            body["cursor"] = str(offset + limit)
        return Reply(200, json=body)
