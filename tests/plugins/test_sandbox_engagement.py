from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.sandbox.engagement import EngagementModel, _prefix_count, simulate


@settings(max_examples=60, deadline=None)
@given(
    audience=st.integers(min_value=0, max_value=50_000),
    times=st.lists(st.floats(min_value=0, max_value=50_000), min_size=2, max_size=6),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_counts_are_monotone_and_consistent(audience, times, seed):
    model = EngagementModel.from_settings({"audience": audience, "seed": seed, "ramp_seconds": 900})
    previous = None
    for elapsed in sorted(times):
        counts = simulate(model, elapsed, "channel", "pub")
        assert 0 <= counts.conversions <= counts.clicks <= counts.impressions <= audience
        for metric in ("reactions", "shares", "replies"):
            assert 0 <= getattr(counts, metric) <= counts.impressions
        if previous is not None:
            for field in counts.__dataclass_fields__:
                assert getattr(counts, field) >= getattr(previous, field)
        previous = counts
    assert simulate(model, max(times), "channel", "pub") == previous


@settings(max_examples=50, deadline=None)
@given(total=st.integers(1, 5000), data=st.data())
def test_prefix_counts_sum_to_total(total, data):
    events = data.draw(st.integers(0, total))
    n = data.draw(st.integers(0, total))
    count = _prefix_count(total, events, n, "seed")
    assert max(0, events - (total - n)) <= count <= min(events, n)
    assert _prefix_count(total, events, total, "seed") == events


def test_binomial_mean_is_close_to_rate():
    model = EngagementModel.from_settings(
        {"audience": 1000, "ramp_seconds": 0, "rates": {"ctr": 0.1}}
    )
    clicks = [simulate(model, 1, "c", f"p{i}").clicks for i in range(200)]
    assert sum(clicks) / len(clicks) == pytest.approx(100, rel=0.05)


def test_invalid_settings_raise():
    with pytest.raises(ValueError, match="between 0 and 1"):
        EngagementModel.from_settings({"rates": {"ctr": 1.5}})
    with pytest.raises(ValueError, match="unknown rate"):
        EngagementModel.from_settings({"rates": {"ctrr": 0.1}})
    with pytest.raises(ValueError, match="audience"):
        EngagementModel.from_settings({"audience": -1})
