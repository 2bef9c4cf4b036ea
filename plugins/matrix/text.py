"""A post as Matrix shows it: plain ``body`` for every client, HTML ``formatted_body`` for those
that render it.

The post's text is read as Markdown (CommonMark) - what marketers type for emphasis and lists -
and rendered with raw HTML *escaped*, so a post can never inject markup into a room. Links the
text does not already show, and the call to action, are added as lines of their own.
"""

from __future__ import annotations

from markdown_it import MarkdownIt

from publishers import Post, apply_cta

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def compose(post: Post) -> str:
    """The full text: body, call to action, then any link the text does not already show."""
    post = apply_cta(post)
    text = post.body.rstrip()
    missing = [link for link in post.links if link not in text]
    if missing:
        text = "\n\n".join(part for part in (text, "\n".join(missing)) if part)
    return text


def message_content(post: Post) -> dict[str, str]:
    """The ``m.room.message`` content for ``post``."""
    text = compose(post)
    html = _markdown.render(text).strip()
    content = {"msgtype": "m.text", "body": text}
    if html and html != f"<p>{text}</p>":  # plain text needs no formatted twin
        content.update(format="org.matrix.custom.html", formatted_body=html)
    return content
