"""Reading the conversation back from Mastodon: replies through each post's context, mentions
through the account's notifications (oldest first after the cursor, so nothing is skipped), and
a watch's terms through the hashtag timelines and the full-text search.

Statuses arrive as HTML; the text kept is what a person reads (tags removed, entities decoded,
paragraphs and line breaks as new lines). Authors are kept as Mastodon shows them: ``@acct``
(``user@instance`` for a remote account) and the display name.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from publishers import InboundMessage, contains_term

__all__ = ["contains_term", "message_from_status", "newer", "plain_text", "status_id_key"]

_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def plain_text(content: str) -> str:
    """The text of a status's HTML ``content``."""
    text = _BREAK.sub("\n", content or "")
    return html.unescape(_TAG.sub("", text)).strip()


def message_from_status(status: Mapping[str, Any]) -> InboundMessage:
    """One status as a message; raises ``KeyError``/``TypeError``/``ValueError`` when it is not
    a readable status (the caller counts it as skipped)."""
    account = status["account"]
    created = datetime.fromisoformat(str(status["created_at"]).replace("Z", "+00:00"))
    return InboundMessage(
        network_id=str(status["id"]),
        text=plain_text(str(status.get("content") or "")),
        author_handle="@" + str(account["acct"]),
        author_name=str(account.get("display_name") or ""),
        language=str(status.get("language") or ""),
        published_at=created,
        url=str(status.get("url") or status.get("uri") or ""),
        in_reply_to=str(status.get("in_reply_to_id") or ""),
    )


def status_id_key(status_id: str) -> tuple[int, str]:
    """Sort key of Mastodon's numeric ids (longer is newer: they are not zero-padded)."""
    return (len(status_id), status_id)


def newer(status_id: str, cursor: str) -> bool:
    """Whether ``status_id`` comes after ``cursor`` (``""``: everything does)."""
    return not cursor or status_id_key(status_id) > status_id_key(cursor)
