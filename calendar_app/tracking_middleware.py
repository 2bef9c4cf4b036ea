"""The tracked-link redirect, served ahead of the middleware it does not need.

``/r/<code>`` is the hottest path Kairos serves (every click of every post) and the simplest: one
indexed read of the link, one INSERT of the click, a 302. It carries no session, no logged-in
user, no form and no message, so the middleware that exists for those (sessions, CSRF,
authentication, idempotency keys, messages, the login lock-out) would only cost it time. Django
runs middleware for every URL alike, so this one, placed right after ``SecurityMiddleware``,
answers ``/r/`` requests itself and hands every other request on unchanged.

What still applies to the redirect: ``SecurityMiddleware`` (before this one: HTTPS redirect,
HSTS, ``nosniff``), Django's exception handling (an error is the usual 500 page), the request
signals (database connections are closed as usual) and ``X-Frame-Options: DENY``, set here as
the clickjacking middleware would. ``CommonMiddleware``'s slash handling does not matter: the
pattern has no trailing slash and a path that does not match goes through the full chain.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from calendar_app.tracking_views import tracked_redirect

PREFIX = "/r/"


class TrackedRedirectMiddleware:
    """Serve :func:`~calendar_app.tracking_views.tracked_redirect` without the rest of the chain."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(PREFIX):
            try:
                match = resolve(request.path_info, getattr(request, "urlconf", None))
            except Resolver404:
                match = None
            if match is not None and match.func is tracked_redirect:
                request.resolver_match = match
                response = tracked_redirect(request, *match.args, **match.kwargs)
                response.headers.setdefault("X-Frame-Options", "DENY")
                return response
        return self.get_response(request)
