"""A CONTRACT server for Mastodon's search and hashtag timelines, on 127.0.0.1 (not Mastodon).

mastodon-mock ignores ``min_id`` and ``max_id`` on ``/api/v2/search`` (see
test_mastodon_server.py), so paging through more than one page of matches cannot be tested on
it. This server answers the three calls a watch makes, written from the API documentation
(docs.joinmastodon.org: methods/search, methods/timelines, methods/accounts) and from how
Mastodon's statuses search orders its results (by id, newest first, with ``min_id`` and
``max_id`` as exclusive bounds):

* ``GET /api/v1/accounts/verify_credentials`` - the token's account;
* ``GET /api/v2/search`` (``q``, ``type=statuses``, ``limit`` 20 by default and at most 40,
  ``min_id``, ``max_id``, ``offset``): matching is a case-insensitive substring, as loose as a
  search engine's stems (so the plugin's whole-word filter is exercised). A token without the
  ``read:search`` scope gets Mastodon's 403 ``This action is outside the authorized scopes``;
* ``GET /api/v1/timelines/tag/:hashtag`` (``limit`` at most 40, ``max_id``, ``since_id``, and
  ``min_id`` for the page immediately newer than it, oldest of those first as Mastodon
  documents, though returned newest first).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from publishers.testing import FakeServer, Reply
from publishers.testing.servers import RecordedRequest

__all__ = ["NO_SEARCH_TOKEN", "SearchInstance"]

TOKEN = "search-token"
#: A token granted before Kairos asked for ``read:search``.
NO_SEARCH_TOKEN = "old-token"
OWN_ID = "1"
_BASE_ID = 110_000_000_000_000_000


@dataclass
class SearchInstance:
    statuses: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.server = FakeServer(self.handle)

    def __enter__(self) -> SearchInstance:
        self.server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    def say(self, text: str, *, account_id: str = "2", acct: str = "fan@elsewhere.social") -> str:
        """A public status, newer than every earlier one; returns its id."""
        with self._lock:
            status_id = str(_BASE_ID + (len(self.statuses) + 1) * 65_536)
            self.statuses.append(
                {
                    "id": status_id,
                    "created_at": "2026-11-30T09:00:00.000Z",
                    "content": f"<p>{text}</p>",
                    "language": "en",
                    "url": f"https://elsewhere.social/@fan/{status_id}",
                    "in_reply_to_id": None,
                    "visibility": "public",
                    "tags": [{"name": t.lower()} for t in re.findall(r"#(\w+)", text)],
                    "account": {"id": account_id, "acct": acct, "display_name": "Fan"},
                }
            )
        return status_id

    def calls(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.server.requests if r.path.startswith(path)]

    def handle(self, request: RecordedRequest) -> Reply:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in (TOKEN, NO_SEARCH_TOKEN):
            return Reply(401, json={"error": "The access token is invalid"})
        params = {k: v[-1] for k, v in request.query.items()}
        if request.path == "/api/v1/accounts/verify_credentials":
            return Reply(200, json={"id": OWN_ID, "acct": "brand", "username": "brand"})
        if request.path == "/api/v2/search":
            if token == NO_SEARCH_TOKEN:
                return Reply(403, json={"error": "This action is outside the authorized scopes"})
            q = params.get("q", "").strip().lower()
            hits = [s for s in self.statuses if q and q in s["content"].lower()]
            return Reply(
                200, json={"accounts": [], "hashtags": [], "statuses": self._page(hits, params, 20)}
            )
        if request.path.startswith("/api/v1/timelines/tag/"):
            tag = unquote(request.path.rsplit("/", 1)[-1]).lower()
            hits = [s for s in self.statuses if {"name": tag} in s["tags"]]
            return Reply(200, json=self._page(hits, params, 20, timeline=True))
        return Reply(404, json={"error": "Record not found"})

    @staticmethod
    def _page(
        hits: list[dict[str, Any]], params: dict[str, str], default: int, timeline: bool = False
    ) -> list[dict]:
        limit = min(int(params.get("limit") or default), 40)

        def key(status_id: str) -> int:
            return int(status_id)

        if params.get("max_id"):
            hits = [s for s in hits if key(s["id"]) < key(params["max_id"])]
        for bound in ("since_id", "min_id"):
            if params.get(bound):
                hits = [s for s in hits if key(s["id"]) > key(params[bound])]
        hits = sorted(hits, key=lambda s: key(s["id"]), reverse=True)
        if timeline and params.get("min_id"):
            return hits[-limit:]  # the page immediately newer than min_id
        offset = int(params.get("offset") or 0)
        return hits[offset : offset + limit]
