"""Property-based run of the whole OpenAPI schema against the WSGI app (schemathesis).

Every operation gets generated requests, authenticated with an admin token of a workspace that
holds one row of every resource; the checks: no 5xx, and every response (success or error)
matches the schema. Bounded to a few examples per operation so the run stays short.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from calendar_app.models import Role
from config.wsgi import application
from tests.api.conftest import build_world, token_client

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture
def keep_connection():
    """Django closes the database connection at the end of each WSGI request; inside a test's
    transaction that would close the test database, so (like Django's test client) don't."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def auth(db, keep_connection):
    """A populated workspace and an admin token for it; the path's workspace slug is pinned to it
    (a random slug would only ever exercise the 404 path)."""
    from tests import factories as f

    world = build_world(f.WorkspaceFactory(slug="schemathesis"))
    client = token_client(world.workspace, Role.ADMIN)
    return world, {"Authorization": f"Token {client.token}"}


@schema.parametrize()
@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(case, auth):
    world, headers = auth
    if "workspace_slug" in (case.path_parameters or {}):
        case.path_parameters["workspace_slug"] = world.workspace.slug
    case.call_and_validate(
        headers=headers,
        checks=[not_a_server_error, response_schema_conformance],
    )
