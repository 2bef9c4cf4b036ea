"""``GET /feeds/ical/<token>.ics``: a brand's calendar for Google Calendar, Outlook, Apple Calendar.

No API authentication: the secret in the URL is the credential (calendar apps cannot send
headers). An unknown or revoked token is a plain 404. Responses carry an ``ETag`` and
``Last-Modified`` computed from two aggregate queries, so a client polling with ``If-None-Match``
or ``If-Modified-Since`` gets a ``304`` without the feed being rendered.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils import timezone
from django.utils.http import http_date, parse_http_date_safe
from django.views.decorators.http import require_safe

from calendar_app.ical import feed_version as compute_version
from calendar_app.ical import render_feed, touch_feed
from calendar_app.models import CalendarFeed

#: Clients may keep a copy this long; the URL is a secret, so shared caches must not.
CACHE_CONTROL = "private, max-age=900"
MAX_TOKEN_LENGTH = 100


def _etag_matches(header: str, etag: str) -> bool:
    tags = {part.strip().removeprefix("W/") for part in header.split(",") if part.strip()}
    return "*" in tags or etag in tags


@require_safe
def ical_feed(request: HttpRequest, token: str) -> HttpResponse:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Http404
    feed = CalendarFeed.objects.by_token(token)
    if feed is None:
        raise Http404
    now = timezone.now()
    etag, last_modified = compute_version(feed, now)
    headers = {
        "ETag": etag,
        "Last-Modified": http_date(last_modified.timestamp()),
        "Cache-Control": CACHE_CONTROL,
        "X-Robots-Tag": "noindex",
        "Referrer-Policy": "no-referrer",
    }
    if_none_match = request.headers.get("If-None-Match")
    if_modified_since = parse_http_date_safe(request.headers.get("If-Modified-Since") or "")
    fresh = (
        _etag_matches(if_none_match, etag)
        if if_none_match
        else if_modified_since is not None and int(last_modified.timestamp()) <= if_modified_since
    )
    touch_feed(feed, now)
    if fresh:
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(render_feed(feed, now), content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="kairos-{feed.brand.slug}.ics"'
    for name, value in headers.items():
        response[name] = value
    return response
