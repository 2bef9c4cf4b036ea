"""Rate limits announced in answers: read from the headers networks use, and collected per
attempt from every request made with send_request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from publishers import RateLimit, parse_rate_limit, send_request
from publishers.ratelimit import observe_rate_limit, observing
from publishers.testing.servers import FakeServer, Reply

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            {
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": "2026-11-30T12:05:00.000Z",
            },
            RateLimit(300, 0, NOW + timedelta(minutes=5), NOW),
        ),
        (
            {
                "x-ratelimit-limit": "900",
                "x-ratelimit-remaining": "12",
                "x-ratelimit-reset": "1796040000",
            },
            RateLimit(900, 12, datetime.fromtimestamp(1796040000, UTC), NOW),
        ),
        (
            {"RateLimit-Limit": "100", "RateLimit-Remaining": "3", "RateLimit-Reset": "30"},
            RateLimit(100, 3, NOW + timedelta(seconds=30), NOW),
        ),
        ({"X-RateLimit-Remaining": "7"}, RateLimit(None, 7, None, NOW)),
        ({"Content-Type": "application/json"}, None),
        ({"X-RateLimit-Remaining": "lots", "X-RateLimit-Reset": "soon"}, None),
    ],
)
def test_the_headers_networks_send_are_read(headers, expected) -> None:
    assert parse_rate_limit(headers, now=NOW) == expected


def test_only_a_spent_budget_with_a_known_reset_is_exhausted() -> None:
    assert RateLimit(10, 0, NOW).exhausted
    assert not RateLimit(10, 0, None).exhausted and not RateLimit(10, 1, NOW).exhausted


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
                "RateLimit-Reset",
                "RateLimit-Limit",
            ]
        ),
        st.text(max_size=40),
    )
)
def test_hostile_headers_never_raise(headers) -> None:
    reading = parse_rate_limit(headers, now=NOW)
    assert reading is None or isinstance(reading, RateLimit)


def test_send_request_reports_what_each_answer_says_inside_an_attempt(monkeypatch) -> None:
    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "probe")
    client = httpx.Client()
    with FakeServer() as server:
        server.reply(
            Reply(200, json={}, headers={"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "4"}),
            Reply(429, json={}, headers={"RateLimit-Remaining": "0", "RateLimit-Reset": "9"}),
            Reply(200, json={}),
        )
        timeout = httpx.Timeout(5.0)
        with observing() as seen:
            for _ in range(3):
                send_request(
                    client,
                    "GET",
                    server.url,
                    network="probe",
                    peer="the probe",
                    headers={},
                    timeout=timeout,
                )
        # Outside an attempt nobody collects readings: they are dropped, not kept for later.
        observe_rate_limit({"X-RateLimit-Remaining": "1"})
    assert [(r.limit, r.remaining) for r in seen] == [(5, 4), (None, 0)]
    assert seen[1].exhausted
    with observing() as later:
        pass
    assert later == []


def test_the_attempt_s_outcome_carries_the_last_reading(monkeypatch, make_plugins, network_plugin):
    from publishers import (
        Capabilities,
        ChannelContext,
        MetricSnapshot,
        Network,
        Post,
        PublishResult,
        deliver,
    )

    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "probe")

    class Probe(Network):
        key = "probe"
        display_name = "Probe"
        capabilities = Capabilities()

        def __init__(self, url: str) -> None:
            self.url = url
            self.client = httpx.Client()

        def validate(self, post, channel):
            return []

        def publish(self, post, channel, idempotency_key):
            send_request(
                self.client,
                "POST",
                self.url,
                network="probe",
                peer="the probe",
                headers={},
                timeout=httpx.Timeout(5.0),
            )
            return PublishResult("1")

        def fetch_metrics(self, ref, channel):
            return MetricSnapshot()

    with FakeServer() as server:
        server.reply(
            Reply(200, json={}, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "60"})
        )
        plugins = make_plugins(("probe", network_plugin(Probe(server.url))))
        outcome = deliver(
            plugins, Post(body="hi"), ChannelContext(id="c", network="probe"), "k", render=False
        )
    assert outcome.published and outcome.rate_limit.remaining == 0 and outcome.rate_limit.exhausted


def test_a_unicode_digit_is_not_a_number():
    """``'¹'.isdigit()`` is true and ``int('¹')`` raises: a hostile header crashed the parser
    (found by test_hostile_headers_never_raise; the API had the same class of bug)."""
    reading = parse_rate_limit({"X-RateLimit-Limit": "¹", "X-RateLimit-Reset": "²"}, now=NOW)
    assert reading is None or reading.limit is None
