"""Likes, reposts and replies of a post, with or without an AppView.

On Bluesky proper an *AppView* indexes the whole network and answers
``app.bsky.feed.getPosts`` with ``likeCount``, ``repostCount``, ``quoteCount`` and
``replyCount``; a channel that names one (``appview``, e.g. ``https://public.api.bsky.app``)
reads them from there, one call per post.

A bare PDS has no such index. Engagement is then *counted* from the records themselves: every
repository the PDS hosts (``com.atproto.sync.listRepos``) is read for its likes, reposts and
posts (``com.atproto.repo.listRecords``), and a like or repost counts when its ``subject`` is
the post, a post counts as a reply when its ``reply.parent`` is the post and as a share when it
quotes the post. This sees only the accounts on that PDS (a self-hosted community server, or a
test server) and costs ``1 + 3 x accounts`` calls at least, so it is capped at
:data:`MAX_REPOS` repositories and :data:`MAX_PAGES` pages of 100 records per collection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_PAGES", "MAX_REPOS", "Counts", "count_in_repos", "counts_from_appview"]

#: Query ``(nsid, params) -> JSON`` against one server.
Query = Callable[[str, dict[str, Any]], dict[str, Any]]

MAX_REPOS = 1000
MAX_PAGES = 10
LIKE = "app.bsky.feed.like"
REPOST = "app.bsky.feed.repost"
POST = "app.bsky.feed.post"


@dataclass(frozen=True, slots=True)
class Counts:
    likes: int = 0
    reposts: int = 0
    quotes: int = 0
    replies: int = 0


def _pages(query: Query, nsid: str, params: dict[str, Any], items: str) -> Iterator[dict]:
    cursor = None
    for _ in range(MAX_PAGES):
        data = query(nsid, {**params, "cursor": cursor} if cursor else params)
        page = data.get(items) or []
        yield from page
        cursor = data.get("cursor")
        if not cursor or len(page) < params.get("limit", 0):  # a short page is the last
            return


def _repos(query: Query) -> list[str]:
    dids: list[str] = []
    cursor = None
    while len(dids) < MAX_REPOS:
        data = query("com.atproto.sync.listRepos", {"limit": 1000, "cursor": cursor})
        repos = data.get("repos") or []
        dids += [str(r["did"]) for r in repos if r.get("did") and r.get("active", True)]
        cursor = data.get("cursor")
        if not cursor or len(repos) < 1000:  # a short page is the last
            break
    return dids[:MAX_REPOS]


def _quoted(record: dict[str, Any]) -> str:
    embed = record.get("embed") or {}
    inner = embed.get("record") or {}
    if isinstance(inner.get("record"), dict):  # app.bsky.embed.recordWithMedia
        inner = inner["record"]
    return str(inner.get("uri") or "")


def count_in_repos(query: Query, uri: str) -> Counts:
    """Count the engagement of the post ``uri`` from the records on one PDS."""
    likes = reposts = quotes = replies = 0
    for did in _repos(query):
        for nsid_collection in (LIKE, REPOST, POST):
            params = {"repo": did, "collection": nsid_collection, "limit": 100}
            for item in _pages(query, "com.atproto.repo.listRecords", params, "records"):
                value = item.get("value") or {}
                if nsid_collection == POST:
                    parent = ((value.get("reply") or {}).get("parent") or {}).get("uri")
                    replies += parent == uri
                    quotes += _quoted(value) == uri
                elif (value.get("subject") or {}).get("uri") == uri:
                    if nsid_collection == LIKE:
                        likes += 1
                    else:
                        reposts += 1
    return Counts(likes=likes, reposts=reposts, quotes=quotes, replies=replies)


def counts_from_appview(query: Query, uri: str) -> Counts | None:
    """The AppView's counts for ``uri``; ``None`` when it has not indexed the post (yet)."""
    posts = query("app.bsky.feed.getPosts", {"uris": uri}).get("posts") or []
    for post in posts:
        if post.get("uri") == uri:
            return Counts(
                likes=int(post.get("likeCount") or 0),
                reposts=int(post.get("repostCount") or 0),
                quotes=int(post.get("quoteCount") or 0),
                replies=int(post.get("replyCount") or 0),
            )
    return None
