"""Links a network hands back, checked before Kairos stores or shows them.

A plugin's ``PublishResult.url`` ends up as a clickable link in the admin, in the API and in
outbound webhooks. A network (or a compromised or buggy plugin) answering ``javascript:...`` or
``data:...`` would turn it into script run by whoever clicks. Only absolute http(s) URLs of a
sane length are kept; anything else is dropped (the post itself is still recorded).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

__all__ = ["MAX_LINK", "safe_link"]

logger = logging.getLogger("kairos.delivery")
MAX_LINK = 1000


def safe_link(value: object) -> str:
    """``value`` when it is an absolute http(s) URL without control characters, else ``""``."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    ok = (
        parts is not None
        and parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and len(value) <= MAX_LINK
        and not any(ord(c) < 32 or c in ' "<>\\\\`' for c in value)
    )
    if not ok:
        logger.warning("dropped a post link that is not a plain http(s) URL: %.80r", value)
        return ""
    return value
