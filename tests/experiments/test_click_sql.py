"""The click's hand-written INSERT (calendar_app.tracking._insert_sql) decides ``is_counted``
exactly as the rule says, for any sequence of clicks.

The rule, in Python here and in SQL there: a click counts unless a counted click of the same
visitor (client address, user agent, UTC day) on the link is younger than ``DEDUPE_WINDOW``, or
``KAIROS_CLICK_CLIENT_LIMIT`` counted clicks of the same client on the link (any user agent, same
UTC day) are younger than ``KAIROS_CLICK_CLIENT_WINDOW``. Clicks stamped later than the new one
(a parallel request whose clock read came later) count as younger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calendar_app.models import Click, TrackedLink
from calendar_app.tracking import DEDUPE_WINDOW, record_click, tracked_url_for

pytestmark = pytest.mark.django_db

ADDRESSES = ("203.0.113.7", "198.51.100.20", "192.0.2.33")
AGENTS = tuple(f"Mozilla/5.0 (X11; Linux x86_64) Firefox/{120 + n}.0" for n in range(3))
LIMIT, WINDOW = 2, timedelta(minutes=50)
#: 23:00 UTC: a run of clicks may cross midnight, where the visitor and client keys change.
ORIGIN = datetime(2027, 3, 27, 23, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Shot:
    address: str
    agent: str
    at: datetime


def expected(shots: list[Shot]) -> list[bool]:
    counted: list[Shot] = []
    verdicts = []
    for shot in shots:
        day = shot.at.date()
        same_visitor = [
            c
            for c in counted
            if (c.address, c.agent, c.at.date()) == (shot.address, shot.agent, day)
            and c.at > shot.at - DEDUPE_WINDOW
        ]
        same_client = [
            c
            for c in counted
            if (c.address, c.at.date()) == (shot.address, day) and c.at > shot.at - WINDOW
        ]
        counts = not same_visitor and len(same_client) < LIMIT
        verdicts.append(counts)
        if counts:
            counted.append(shot)
    return verdicts


shots = st.lists(
    st.builds(
        Shot,
        address=st.sampled_from(ADDRESSES),
        agent=st.sampled_from(AGENTS),
        # mostly forward in time, sometimes a little back (a parallel request's clock)
        at=st.integers(min_value=-5, max_value=150).map(lambda m: ORIGIN + timedelta(minutes=m)),
    ),
    min_size=1,
    max_size=14,
)


@pytest.fixture
def code(experiment, make_publication):
    publication = make_publication(experiment.variants.get(key="bold"), network="mastodon")
    return urlsplit(tracked_url_for(publication, "https://shop.example.com/offer")).path[3:]


@override_settings(KAIROS_CLICK_CLIENT_LIMIT=LIMIT, KAIROS_CLICK_CLIENT_WINDOW=50 * 60)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=shots)
def test_counted_clicks_follow_the_rule(code, sequence):
    Click.objects.all().delete()
    for shot in sequence:
        redirect = record_click(code, ip=shot.address, user_agent=shot.agent, now=shot.at)
        assert redirect is not None and redirect.click_token
    stored = list(Click.objects.order_by("pk").values_list("is_counted", flat=True))
    assert stored == expected(sequence)


def test_each_click_gets_its_own_token_and_the_link_target(code):
    first = record_click(code, ip=ADDRESSES[0], user_agent=AGENTS[0], now=ORIGIN)
    second = record_click(code, ip=ADDRESSES[0], user_agent=AGENTS[0], now=ORIGIN)
    assert first.click_token != second.click_token
    assert first.location == f"https://shop.example.com/offer?kc={first.click_token}"
    link = TrackedLink.objects.get(code=code)
    assert list(link.clicks.order_by("pk").values_list("token", "is_counted")) == [
        (first.click_token, True),
        (second.click_token, False),
    ]


def test_an_unknown_code_is_none_and_writes_nothing(code):
    assert record_click("nope" + code, ip=ADDRESSES[0], user_agent=AGENTS[0]) is None
    assert not Click.objects.exists()
