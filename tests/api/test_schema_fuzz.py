"""The schema and the API agree: the seeded schemathesis run over every operation (``-m fuzz``).

Every operation of ``/api/schema/`` gets the coverage phase's deterministic cases (boundaries,
missing and wrong-typed parameters) and :data:`MAX_EXAMPLES` seeded random cases, positive (what
the schema allows) and negative (what it forbids), against a workspace holding one row of every
resource; the checks and the stated exclusions are in tests/api/fuzzing.py.

CI runs it as its own step (``.ci/run``: ``pytest -m fuzz``) on SQLite and PostgreSQL; a plain
``pytest`` (``make test``) skips it and runs the fast subset in tests/api/test_schemathesis.py.
``KAIROS_FUZZ_SEED`` and ``KAIROS_FUZZ_EXAMPLES`` change the seed and the number of random
cases, to explore locally. See docs/security/robustness.md.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, settings

from tests.api.fuzzing import auth, keep_connection, load_schema, report_stats, run_case

pytestmark = pytest.mark.fuzz

#: Random cases per operation on top of the coverage phase's deterministic ones.
MAX_EXAMPLES = int(os.environ.get("KAIROS_FUZZ_EXAMPLES", "8"))

schema = load_schema(coverage=True)

__all__ = ["auth", "keep_connection"]


@pytest.fixture(autouse=True, scope="module")
def _only_when_selected(request):
    """Minutes of requests: only when asked for (``-m fuzz``, as .ci/run does, or KAIROS_FUZZ=1)."""
    selected = "fuzz" in (request.config.getoption("markexpr", "") or "")
    if not selected and os.environ.get("KAIROS_FUZZ") != "1":
        pytest.skip("the schema fuzz runs only when selected: pytest -m fuzz (or KAIROS_FUZZ=1)")
    yield
    report_stats(request.config, "schema fuzz")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=False,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
def test_api_and_schema_agree(case, auth):
    run_case(case, auth)


def test_every_operation_is_fuzzed():
    """The run covers the whole schema: an operation the generator cannot build would
    silently drop out of the contract check."""
    results = list(schema.get_all_operations())
    assert len(results) >= 100
    for result in results:
        result.ok()  # raises for an operation schemathesis could not load
