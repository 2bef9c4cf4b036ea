"""A post as Matrix shows it: plain ``body`` for every client, HTML ``formatted_body`` for those
that render it.

The post's text is read as Markdown (CommonMark) - what marketers type for emphasis and lists -
and rendered with raw HTML *escaped*, so a post can never inject markup into a room. Links the
text does not already show, and the call to action, are added as lines of their own.
"""

from __future__ import annotations

from typing import Any

from markdown_it import MarkdownIt

from publishers import MediaRef, Post, text_with_links

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def message_content(post: Post) -> dict[str, Any]:
    """The ``m.room.message`` content for ``post``."""
    text = text_with_links(post)
    html = _markdown.render(text).strip()
    content = {"msgtype": "m.text", "body": text}
    if html and html != f"<p>{text}</p>":  # plain text needs no formatted twin
        content.update(format="org.matrix.custom.html", formatted_body=html)
    return content


_MSGTYPES = {"image": "m.image", "video": "m.video", "audio": "m.audio"}


def media_message(media: MediaRef) -> dict[str, Any]:
    """The ``m.room.message`` content of an uploaded medium (``media.network_id`` is its
    ``mxc://`` URI): the alt text as its body, which clients show to screen readers."""
    info: dict[str, Any] = {}
    if media.mime_type:
        info["mimetype"] = media.mime_type
    if media.size is not None:
        info["size"] = media.size
    name = media.name or media.url.rsplit("/", 1)[-1]
    return {
        "msgtype": _MSGTYPES.get(media.kind, "m.file"),
        "body": media.alt_text or name or "medium",
        "filename": name,
        "url": media.network_id,
        "info": info,
    }
