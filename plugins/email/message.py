"""The message one recipient gets: ``multipart/alternative`` plain text + HTML.

The post's text is read as Markdown (CommonMark) and rendered with raw HTML *escaped*, so a post
can never inject markup into the message. The call to action of the recipient's variant comes
last as a button (HTML) and a line with its URL (text); its URL is the host's tracked link, so
clicks are counted per variant. Every message carries:

* ``List-Unsubscribe`` with Kairos' one-click URL for that subscriber (plus an optional
  ``mailto:``) and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 2369, RFC 8058),
  which large mailbox providers require of bulk senders;
* a ``Message-ID`` that depends only on the publication and the address, so the same message is
  recognisable across retries;
* a visible unsubscribe link in both parts.

Nothing tracks opens: there is no tracking pixel (see docs/networks/email.md).
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

from markdown_it import MarkdownIt

from plugins.email.settings import EmailSettings
from publishers import CallToAction, Post, Recipient

#: SMTP line endings; headers are not folded below RFC 5322's 998-character line limit, so a
#: long List-Unsubscribe URL stays on one line for every mailbox provider's parser.
POLICY = SMTP.clone(max_line_length=998)

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})

SUBJECT_LIMIT = 150


def subject_of(post: Post) -> str:
    """``metadata["subject"]`` when the host gives one, else the post's first line."""
    given = post.metadata.get("subject") if post.metadata else None
    if isinstance(given, str) and given.strip():
        text = given.strip()
    else:
        text = next((line.strip() for line in post.body.splitlines() if line.strip()), "")
        text = text.lstrip("#>*- ").strip() or post.brand_name or "Newsletter"
    text = " ".join(text.split())
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 1].rstrip() + "…"


def message_id(idempotency_key: str, address: str, domain: str) -> str:
    """The same for one (publication, recipient) on every attempt, distinct otherwise."""
    digest = hashlib.sha256(f"{idempotency_key}\x1f{address.lower()}".encode()).hexdigest()
    return f"<{digest[:40]}@{domain}>"


@dataclass(frozen=True, slots=True)
class Parts:
    """The parts of a message shared by every recipient of one variant (rendered once)."""

    text: str
    html: str


def render_parts(post: Post, cta: CallToAction | None) -> Parts:
    """Text and HTML for ``post`` with ``cta`` as its call to action (no footer yet)."""
    body = post.body.strip()
    links = [link for link in post.links if link not in body and (cta is None or link != cta.url)]
    text_blocks = [body] if body else []
    html_blocks = [_markdown.render(body).strip()] if body else []
    if links:
        text_blocks.append("\n".join(links))
        html_blocks.append(
            "<p>"
            + "<br>".join(
                f'<a href="{html.escape(link, quote=True)}">{html.escape(link)}</a>'
                for link in links
            )
            + "</p>"
        )
    if cta is not None and (cta.text or cta.url):
        if cta.url:
            text_blocks.append(f"{cta.text}\n{cta.url}" if cta.text else cta.url)
            label = cta.button_label or cta.text or cta.url
            intro = f"<p>{html.escape(cta.text)}</p>" if cta.button_label and cta.text else ""
            html_blocks.append(
                f'{intro}<p><a class="cta" href="{html.escape(cta.url, quote=True)}" '
                'style="display:inline-block;padding:12px 20px;background:#1a56db;color:#ffffff;'
                f'text-decoration:none;border-radius:4px">{html.escape(label)}</a></p>'
            )
        else:
            text_blocks.append(cta.text)
            html_blocks.append(f"<p>{html.escape(cta.text)}</p>")
    return Parts("\n\n".join(text_blocks), "\n".join(html_blocks))


def _footer(post: Post, unsubscribe: str) -> tuple[str, str]:
    who = post.brand_name or "this sender"
    text = (
        f"\n\n--\nYou receive this because you subscribed to {who}'s newsletter.\n"
        f"Unsubscribe: {unsubscribe}\n"
    )
    markup = (
        '<hr><p style="font-size:12px;color:#666666">You receive this because you subscribed '
        f"to {html.escape(who)}'s newsletter. "
        f'<a href="{html.escape(unsubscribe, quote=True)}">Unsubscribe</a></p>'
    )
    return text, markup


def build_message(
    *,
    post: Post,
    parts: Parts,
    recipient: Recipient,
    settings: EmailSettings,
    idempotency_key: str,
    date: str,
    list_id: str,
) -> tuple[str, bytes]:
    """The message for one recipient, as ``(Message-ID, bytes ready for DATA)``."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = formataddr((settings.from_name, settings.from_address))
    msg["To"] = (
        str(Address(display_name=recipient.name, addr_spec=recipient.email))
        if recipient.name
        else recipient.email
    )
    msg["Subject"] = subject_of(post)
    msg["Date"] = date
    mid = message_id(idempotency_key, recipient.email, settings.from_domain)
    msg["Message-ID"] = mid
    if settings.reply_to:
        msg["Reply-To"] = settings.reply_to
    msg["List-Id"] = list_id
    targets = [f"<{recipient.unsubscribe_url}>"]
    if settings.unsubscribe_mailto:
        token = recipient.unsubscribe_url.rstrip("/").rpartition("/")[2]
        targets.append(f"<mailto:{settings.unsubscribe_mailto}?subject=unsubscribe%20{token}>")
    msg["List-Unsubscribe"] = ", ".join(targets)
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if post.language:
        msg["Content-Language"] = post.language
    text_footer, html_footer = _footer(post, recipient.unsubscribe_url)
    msg.set_content(parts.text + text_footer, subtype="plain", charset="utf-8")
    document = (
        f'<!DOCTYPE html><html lang="{html.escape(post.language or "en", quote=True)}">'
        '<head><meta charset="utf-8"></head><body>'
        f"{parts.html}{html_footer}</body></html>"
    )
    msg.add_alternative(document, subtype="html", charset="utf-8")
    return mid, msg.as_bytes()


def send_date() -> str:
    """The ``Date`` header of a send (RFC 5322 form)."""
    return format_datetime(datetime.now(UTC))
