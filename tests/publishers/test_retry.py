from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publishers import RetryPolicy, next_delay

POLICY = RetryPolicy(base=10, factor=2, cap=300, max_attempts=6, max_retry_after=3600)


def test_deterministic_with_injected_rng():
    first = [next_delay(n, rng=random.Random(42), policy=POLICY) for n in range(1, 6)]
    second = [next_delay(n, rng=random.Random(42), policy=POLICY) for n in range(1, 6)]
    assert first == second


def test_gives_up_after_max_attempts():
    assert next_delay(5, policy=POLICY) is not None
    assert next_delay(6, policy=POLICY) is None


def test_retry_after_too_long_gives_up():
    assert next_delay(1, retry_after=7200, policy=POLICY) is None


def test_attempt_must_be_positive():
    with pytest.raises(ValueError):
        next_delay(0)


def test_invalid_policy():
    with pytest.raises(ValueError):
        RetryPolicy(base=10, cap=5)


@given(
    attempt=st.integers(min_value=1, max_value=5),
    retry_after=st.none() | st.floats(min_value=0, max_value=3600),
    seed=st.integers(),
)
def test_delay_bounds(attempt, retry_after, seed):
    delay = next_delay(attempt, retry_after=retry_after, rng=random.Random(seed), policy=POLICY)
    assert delay is not None
    bound = min(POLICY.cap, POLICY.base * POLICY.factor ** (attempt - 1))
    assert delay >= 0
    if retry_after is None:
        assert delay <= bound
    else:
        assert delay >= retry_after
        assert delay <= max(bound, retry_after)


@given(attempt=st.integers(min_value=1, max_value=10**6))
def test_huge_attempt_numbers_do_not_overflow(attempt):
    policy = RetryPolicy(base=1, factor=10, cap=60, max_attempts=10**7)
    delay = next_delay(attempt, rng=random.Random(0), policy=policy)
    assert delay is not None and 0 <= delay <= 60


def test_full_jitter_spreads_delays():
    rng = random.Random(1)
    delays = [next_delay(4, rng=rng, policy=POLICY) for _ in range(200)]
    assert min(delays) < 0.2 * 80 and max(delays) > 0.8 * 80


@pytest.mark.parametrize(("jitter", "low", "high"), [(0.0, 80, 80), (0.5, 40, 80), (1.0, 0, 80)])
def test_jitter_is_the_random_share_of_the_bound(jitter, low, high):
    policy = POLICY.replace(jitter=jitter)
    for value in (0.0, 0.5, 0.999999):
        delay = next_delay(
            4, rng=type("R", (), {"random": lambda self, v=value: v})(), policy=policy
        )
        assert low - 1e-6 <= delay <= high


@pytest.mark.parametrize(
    "changes", [{"jitter": -0.1}, {"jitter": 1.5}, {"max_retry_after": -1}, {"base": float("nan")}]
)
def test_invalid_jitter_and_limits_are_refused(changes):
    with pytest.raises(ValueError, match="invalid retry policy"):
        POLICY.replace(**changes)


def test_a_policy_describes_its_schedule():
    assert POLICY.describe() == (
        "6 attempts; the n-th retry waits up to 10 s × 2^(n-1), capped at 300 s, 100% of it random"
    )
