"""Link cards: the preview under a post (``app.bsky.embed.external``) for its first link.

Bluesky's apps build the card in the app, not on the server, so a post made through the API has
no preview unless the client builds one. Kairos reads the page's Open Graph tags (``og:title``,
``og:description``, else ``<title>`` and ``<meta name="description">``) from at most the first
:data:`MAX_PAGE_BYTES` of the page - the tags live in ``<head>`` - under the same address rules
as every other request of the plugin. When the page cannot be read, the card holds the URL
alone: the post still goes out.
"""

from __future__ import annotations

import html
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import httpx

from publishers import (
    ClientPool,
    PublisherError,
    pinned_request,
    private_allowed,
    resolve_target,
)

__all__ = ["MAX_PAGE_BYTES", "external_embed", "page_summary", "read_page_head"]

MAX_PAGE_BYTES = 64 * 1024
MAX_REDIRECTS = 3
MAX_TITLE = 300
MAX_DESCRIPTION = 1000
_TIMEOUT = httpx.Timeout(5.0, connect=3.0)


class _MetaParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            name = (values.get("property") or values.get("name") or "").lower()
            if name and "content" in values:
                self.meta.setdefault(name, values["content"])
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def _clean(text: str, limit: int) -> str:
    text = " ".join(html.unescape(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def page_summary(page: str) -> tuple[str, str]:
    """``(title, description)`` from a page's head."""
    parser = _MetaParser()
    try:
        parser.feed(page)
        parser.close()
    except Exception:  # a broken page gives what was parsed so far
        pass
    meta = parser.meta
    title = meta.get("og:title") or meta.get("twitter:title") or parser.title
    description = (
        meta.get("og:description") or meta.get("twitter:description") or meta.get("description")
    )
    return _clean(title or "", MAX_TITLE), _clean(description or "", MAX_DESCRIPTION)


def read_page_head(http: httpx.Client | ClientPool, url: str, network: str) -> str:
    """At most :data:`MAX_PAGE_BYTES` of the HTML at ``url`` (following up to
    :data:`MAX_REDIRECTS` redirects, each target checked anew); ``""`` when it cannot be read."""
    for _ in range(MAX_REDIRECTS + 1):
        try:
            target = resolve_target(url, allow_private=private_allowed(network))
            response = pinned_request(
                http.client_for(target) if isinstance(http, ClientPool) else http,
                "GET",
                url,
                target,
                headers={"User-Agent": "Kairos-Bluesky/1 (link preview)", "Accept": "text/html"},
                timeout=_TIMEOUT,
                stream=True,
            )
        except (PublisherError, httpx.HTTPError, ValueError):
            return ""
        try:
            location = response.headers.get("Location", "")
            if response.is_redirect and location:
                url = urljoin(url, location)
                continue
            if response.status_code != 200 or "html" not in response.headers.get(
                "Content-Type", ""
            ):
                return ""
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= MAX_PAGE_BYTES:
                    break
            return body[:MAX_PAGE_BYTES].decode(response.encoding or "utf-8", errors="replace")
        except httpx.HTTPError:
            return ""
        finally:
            response.close()
    return ""


def external_embed(url: str, page: str) -> dict[str, Any]:
    """The card for ``url``, from the page read (empty: the URL alone)."""
    title, description = page_summary(page) if page else ("", "")
    return {
        "$type": "app.bsky.embed.external",
        "external": {"uri": url, "title": title, "description": description},
    }
