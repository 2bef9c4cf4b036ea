"""The public one-click unsubscribe page (RFC 8058), served at ``/u/<token>/``.

* ``GET`` shows a page with one button; it changes nothing, because mail scanners and link
  previews fetch every URL in a message and must not unsubscribe anyone.
* ``POST`` with the form field ``List-Unsubscribe=One-Click`` - what a mailbox provider sends
  when the person clicks its "Unsubscribe" button, and what the page's own button sends -
  unsubscribes at once, without login, cookies or CSRF token (the unguessable token is the
  credential). Repeating it is harmless.
* An unknown token answers 404; nothing here answers 500 for any input.
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from calendar_app.audiences.models import Subscriber, SubscriberStatus
from calendar_app.audiences.services import unsubscribe

TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")

PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="robots" content="noindex"><meta name="viewport" content="width=device-width">
<title>{title}</title></head><body style="font-family:sans-serif;max-width:32em;margin:3em auto">
<h1>{title}</h1>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(format_html(PAGE, title=title, body=body), status=status)
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def _not_found() -> HttpResponse:
    return _page(
        "Link not recognised",
        mark_safe("<p>This unsubscribe link is not valid. It may have been mistyped.</p>"),
        404,
    )


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    if not TOKEN.match(token):
        return _not_found()
    subscriber = (
        Subscriber.objects.filter(unsubscribe_token=token).select_related("audience__brand").first()
    )
    if subscriber is None:
        return _not_found()
    who = subscriber.audience.brand.name
    if request.method == "POST":
        if request.POST.get("List-Unsubscribe") != "One-Click":
            return _page(
                "Nothing changed",
                mark_safe("<p>The request did not ask to unsubscribe.</p>"),
                400,
            )
        unsubscribe(token, source="one-click")
        return _page(
            "You are unsubscribed",
            format_html(
                "<p>{} will not send {} to {} any more.</p>",
                who,
                subscriber.audience.name,
                subscriber.email,
            ),
        )
    if subscriber.status != SubscriberStatus.SUBSCRIBED:
        return _page(
            "You are unsubscribed",
            format_html(
                "<p>{} is not on {} any more.</p>", subscriber.email, subscriber.audience.name
            ),
        )
    return _page(
        "Unsubscribe?",
        format_html(
            '<p>Stop receiving {} from {} at {}?</p><form method="post">'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
            '<button type="submit">Unsubscribe</button></form>',
            subscriber.audience.name,
            who,
            subscriber.email,
        ),
    )
