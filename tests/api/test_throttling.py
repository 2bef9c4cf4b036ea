"""The API's rate limit (calendar_app.api.throttling): a bucket of N requests per period that
refills continuously, holding the rate over any stretch of time, whatever the budget."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from calendar_app.api.throttling import ApiKeyRateThrottle
from calendar_app.models import Role
from tests.api.conftest import token_client
from tests.api.test_auth import brands_url


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _throttle(rate: str, clock: _Clock, key: str = "throttle_test_key") -> ApiKeyRateThrottle:
    """A throttle of ``rate`` reading ``clock``, keyed ``key`` (the API test below covers keys)."""

    class Throttle(ApiKeyRateThrottle):
        timer = clock

        def get_cache_key(self, request, view):
            return key

    Throttle.rate = rate
    return Throttle()


def _ask(rate: str, clock: _Clock) -> tuple[bool, float | None]:
    """One request, as DRF asks: a throttle made for it, then its answer and its wait."""
    throttle = _throttle(rate, clock)
    allowed = throttle.allow_request(None, None)
    return allowed, None if allowed else throttle.wait()


def test_a_full_bucket_lets_its_budget_through_at_once_then_one_per_interval():
    clock = _Clock()
    assert [_ask("3/minute", clock)[0] for _ in range(3)] == [True, True, True]
    allowed, wait = _ask("3/minute", clock)
    assert not allowed and wait == pytest.approx(20)  # one request refills every 20 s
    clock.now += 19.5
    assert _ask("3/minute", clock) == (False, pytest.approx(0.5))
    clock.now += 0.5
    assert _ask("3/minute", clock)[0]
    assert not _ask("3/minute", clock)[0]
    clock.now += 60  # a whole period idle: the bucket is full again, and no fuller
    assert [_ask("3/minute", clock)[0] for _ in range(4)] == [True, True, True, False]


def test_the_state_is_one_number_whatever_the_budget():
    clock = _Clock()
    for _ in range(500):
        assert _ask("100000/minute", clock)[0]
        clock.now += 0.001
    assert isinstance(cache.get("throttle_test_key"), float)


def test_an_older_throttles_request_log_is_read_as_a_full_bucket():
    clock = _Clock()
    cache.set("throttle_test_key", [clock.now] * 10, 60)  # what DRF's throttle kept
    assert [_ask("2/minute", clock)[0] for _ in range(3)] == [True, True, False]


@given(
    budget=st.integers(min_value=1, max_value=20),
    period=st.sampled_from(["second", "minute", "hour"]),
    gaps=st.lists(
        st.one_of(st.just(0.0), st.floats(min_value=0, max_value=4000, allow_nan=False)),
        min_size=1,
        max_size=120,
    ),
)
def test_over_any_stretch_no_more_than_the_budget_plus_the_rate_gets_through(budget, period, gaps):
    cache.delete("throttle_test_key")
    rate = f"{budget}/{period}"
    seconds = {"second": 1, "minute": 60, "hour": 3600}[period]
    interval = seconds / budget
    clock = _Clock()
    admitted = []
    for gap in gaps:
        clock.now += gap
        allowed, wait = _ask(rate, clock)
        if allowed:
            admitted.append(clock.now)
        else:
            # refused only when the bucket is empty, and told how long until it is not
            assert 0 < wait <= interval + 1e-6
            later = _Clock()
            later.now = clock.now + wait + 1e-6
            probe = _throttle(rate, later, key="throttle_probe_key")
            cache.set("throttle_probe_key", cache.get("throttle_test_key"), 3600)
            assert probe.allow_request(None, None)
    for first in range(len(admitted)):
        for last in range(first, len(admitted)):
            got = last - first + 1
            assert got <= budget + (admitted[last] - admitted[first]) / interval + 1e-6
    # a lone request after a full period of quiet always gets through
    clock.now += seconds
    assert _ask(rate, clock)[0]


@pytest.mark.django_db
def test_throttling_is_per_key_and_says_when_to_come_back(workspace):
    rates = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "3/minute"}}
    with override_settings(REST_FRAMEWORK=rates):
        first, second = token_client(workspace, Role.VIEWER), token_client(workspace, Role.VIEWER)
        codes = [first.get(brands_url(workspace)).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        refused = first.get(brands_url(workspace))
        assert refused.status_code == 429 and refused.json()["code"] == "throttled"
        assert 19 <= int(refused["Retry-After"]) <= 20
        assert second.get(brands_url(workspace)).status_code == 200


def _workers_cache(url: str) -> Any:
    """A Redis cache client as one worker process holds it (settings' options)."""
    from django.core.cache.backends.redis import RedisCache

    return RedisCache(url, {"OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}})


def test_with_a_shared_cache_every_worker_spends_the_same_budget():
    url = os.environ.get("KAIROS_TEST_REDIS_URL")
    if not url:
        pytest.skip("needs a Redis server (KAIROS_TEST_REDIS_URL, as CI's PostgreSQL step sets)")
    workers = [_workers_cache(url) for _ in range(3)]  # three processes' own clients
    key = f"throttle_shared_{uuid.uuid4().hex}"
    clock = _Clock()
    answers = []
    for turn in range(6):
        throttle = _throttle("4/minute", clock, key=key)
        throttle.cache = workers[turn % 3]
        answers.append(throttle.allow_request(None, None))
    workers[0].delete(key)
    assert answers == [True, True, True, True, False, False]


def test_a_cache_that_cannot_be_reached_lets_requests_through_and_says_so(caplog):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    throttle = _throttle("1/minute", _Clock())
    throttle.cache = _workers_cache(f"redis://127.0.0.1:{port}/0")
    assert throttle.allow_request(None, None) and throttle.allow_request(None, None)
    assert "rate limit not applied" in caplog.text


def _cache_setting(**env: str) -> str:
    """The default cache ``config.settings`` sets up in a clean environment plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KAIROS_", "DJANGO_"))}
    shown = (
        "import config.settings as s; c = getattr(s, 'CACHES', {}).get('default');"
        "print(c and (c['BACKEND'], c['LOCATION']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", shown],
        cwd=Path(__file__).resolve().parents[2],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_kairos_cache_url_puts_the_budgets_in_redis():
    assert _cache_setting() == "None"  # Django's default: each process's memory
    assert _cache_setting(KAIROS_CACHE_URL="redis://cache.internal:6379/1") == (
        "('django.core.cache.backends.redis.RedisCache', 'redis://cache.internal:6379/1')"
    )
