"""A click's two checks (a repeat of the visitor, the client's limit) read counted clicks only,
straight from an index whose key holds ``is_counted`` before the time. Without it, every
uncounted click of one visitor or client in the window was scanned to find the counted ones: a
flood from one address (a bot, an office behind one NAT) made each of its next clicks slower and
held the click's lock longer (a benchmark of one client fell from 55% to 15% of the bare view
as its clicks piled up)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.utils import timezone

from calendar_app.models import Click, TrackedLink
from calendar_app.tracking import _insert_sql, tracked_url_for

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.experiments.urls")]

HUMAN = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.fixture
def link(experiment, make_publication):
    pub = make_publication(experiment.variants.get(key="bold"))
    code = urlsplit(tracked_url_for(pub, "https://shop.example.com/offer")).path.rsplit("/", 1)[1]
    return TrackedLink.objects.get(code=code)


def _plan(sql: str, params: list) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        cursor.execute("SET LOCAL enable_seqscan = off")  # a small table is read whole otherwise
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_checks_seek_counted_clicks_in_the_index(link):
    now = timezone.now()
    if connection.vendor == "sqlite":  # the INSERT SQLite runs, as record_click runs it
        adapt = connection.ops.adapt_datetimefield_value
        plan = _plan(
            _insert_sql(),
            [
                *(link.pk, "t" * 22, adapt(now), "v" * 64, "c" * 64),
                *(link.pk, True, "v" * 64, adapt(now - timedelta(hours=1)), False),
                *(link.pk, True, "c" * 64, adapt(now - timedelta(hours=1)), 4, False, True),
            ],
        )
        assert "click_dedupe_counted (link_id=? AND visitor_hash=? AND is_counted=?" in plan
        assert "click_client_counted (link_id=? AND client_hash=? AND is_counted=?" in plan
        return
    # PostgreSQL: the checks as calendar_app.click_function writes them (a bare boolean), on a
    # table big enough that its statistics say an index beats the link's alone
    Click.objects.bulk_create(
        Click(
            link=link,
            token=f"many{n:018d}",
            clicked_at=now - timedelta(seconds=n),
            visitor_hash=f"{n:064d}",
            client_hash=f"{n % 97:064d}",
            is_counted=n % 3 == 0,
        )
        for n in range(3000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE calendar_app_click")
    for column, index in (
        ("visitor_hash", "click_dedupe_counted"),
        ("client_hash", "click_client_counted"),
    ):
        plan = _plan(
            f"SELECT 1 FROM calendar_app_click WHERE link_id = %s AND is_counted "
            f"AND {column} = %s AND clicked_at > %s LIMIT 1 OFFSET 4",
            [link.pk, "x" * 64, now - timedelta(hours=1)],
        )
        assert index in plan, plan
        assert "is_counted = true" in plan, plan  # a key of the index, not a filter


def test_a_flood_of_uncounted_clicks_leaves_the_rules_as_they_were(client, link, settings):
    """Thousands of uncounted clicks of one client: the next click of a new visitor behind the
    same address is still judged by the counted ones alone."""
    settings.KAIROS_CLICK_CLIENT_LIMIT = 3
    ua = [f"{HUMAN} n{n}" for n in range(6)]
    for agent in ua[:3]:
        client.get(f"/r/{link.code}", HTTP_USER_AGENT=agent, REMOTE_ADDR="198.51.100.9")
    counted = list(Click.objects.filter(link=link, is_counted=True))
    assert len(counted) == 3
    template = counted[0]
    Click.objects.bulk_create(
        Click(
            link=link,
            token=f"flood{n:017d}",
            clicked_at=timezone.now() - timedelta(seconds=n % 50),
            visitor_hash=template.visitor_hash,
            client_hash=template.client_hash,
            is_counted=False,
        )
        for n in range(3000)
    )
    client.get(f"/r/{link.code}", HTTP_USER_AGENT=ua[4], REMOTE_ADDR="198.51.100.9")
    client.get(f"/r/{link.code}", HTTP_USER_AGENT=ua[5], REMOTE_ADDR="198.51.100.10")
    newest = Click.objects.filter(link=link).order_by("-id")[:2]
    # the same client is over its limit; another address is counted
    assert [click.is_counted for click in newest] == [True, False]
