"""``/r/<code>`` is answered ahead of the middleware it does not need (issue 16): no session, no
user, no CSRF, messages or lock-out work on the hottest path; every other URL keeps the whole
chain, and the redirect keeps what still matters (security headers, X-Frame-Options, errors)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calendar_app.models import Click
from calendar_app.tracking import tracked_url_for
from tests.experiments.test_tracking import HUMAN

pytestmark = pytest.mark.django_db


@pytest.fixture
def link_path(experiment, make_publication):
    pub = make_publication(experiment.variants.get(key="bold"))
    return urlsplit(tracked_url_for(pub, "https://shop.example.com/offer")).path


def test_the_redirect_runs_without_session_and_authentication(client, link_path) -> None:
    client.cookies["sessionid"] = "whatever"  # a visitor who is also logged into the admin
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(link_path, HTTP_USER_AGENT=HUMAN, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 302 and Click.objects.count() == 1
    request = response.wsgi_request
    assert not hasattr(request, "session") and not hasattr(request, "user")
    assert "Cookie" not in response.get("Vary", "") and not response.cookies
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware still runs
    assert response.resolver_match.url_name == "tracked-redirect"
    reads_and_writes = [q["sql"].split()[0].upper() for q in ctx.captured_queries]
    if connection.vendor == "postgresql":  # the link, the click's lock and INSERT: one call
        assert reads_and_writes == ["SELECT"]
    else:
        assert reads_and_writes == ["SELECT", "INSERT"]


def test_unknown_codes_and_wrong_methods_answer_as_before(client, link_path) -> None:
    assert client.get("/r/nope", HTTP_USER_AGENT=HUMAN).status_code == 404
    assert client.post(link_path).status_code == 405
    head = client.head(link_path, HTTP_USER_AGENT=HUMAN)
    assert head.status_code == 302 and Click.objects.count() == 0


def test_paths_beyond_the_redirect_keep_the_whole_chain(client, link_path) -> None:
    deeper = client.get(f"{link_path}/more")  # not the redirect's pattern
    assert deeper.status_code == 404 and hasattr(deeper.wsgi_request, "user")
    login = client.get("/admin/login/")
    assert login.status_code == 200 and hasattr(login.wsgi_request, "session")
    assert "csrftoken" in login.cookies
