"""The fast subset of the schema fuzz that every ``make test`` runs (tests/api/fuzzing.py).

Every operation gets a few seeded random cases, positive and negative, with all the checks of the
full run (no 5xx, every status and body as declared, forbidden input refused, allowed input
accepted). The full run adds the coverage phase's boundary cases and more random ones: it is
``pytest -m fuzz`` (tests/api/test_schema_fuzz.py), a step of its own in .ci/run.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, settings

from tests.api.fuzzing import auth, keep_connection, load_schema, report_stats, run_case

schema = load_schema(coverage=False)

__all__ = ["auth", "keep_connection"]


@pytest.fixture(autouse=True, scope="module")
def _report(request):
    yield
    report_stats(request.config, "schema fuzz (fast)")


@schema.parametrize()
@settings(
    max_examples=3,
    deadline=None,
    derandomize=False,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
def test_api_conforms_to_its_schema(case, auth):
    run_case(case, auth)
