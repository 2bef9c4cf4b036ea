"""Wide inputs: a link or a team entry of any shape is judged, never a crash."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from calendar_app.moments.models import validate_team
from calendar_app.moments.readiness import SAMPLE_LENGTH, link_problem, stand_in

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(st.text(max_size=200))
def test_link_problem_always_answers(url):
    assert isinstance(link_problem(url), str)


@given(json_values)
def test_team_validation_accepts_or_refuses(value):
    try:
        validate_team(value)
    except ValidationError:
        return
    assert isinstance(value, list)
    assert all(isinstance(entry["user"], int) for entry in value)


@given(st.text(min_size=1, max_size=60))
def test_stand_in_has_a_realistic_length(name):
    sample = stand_in(name)
    assert len(sample) <= max(SAMPLE_LENGTH, len(name))
    assert bool(sample) == bool(name.strip())


def test_links_judged():
    assert link_problem("https://example.com/live") == ""
    assert link_problem("http://127.0.0.1/x") == "points at a private address."
    assert link_problem("javascript:alert(1)") != ""
    assert link_problem("https://intranet/x") != ""
