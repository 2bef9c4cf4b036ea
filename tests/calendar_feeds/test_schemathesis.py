"""Property-based run of the calendar, feed and import operations of the OpenAPI schema: no 5xx,
and every response matches the schema (the project-wide run covers them once they are wired)."""

from __future__ import annotations

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from calendar_app.models import Role
from config.wsgi import application
from tests.api.conftest import build_world, token_client
from tests.calendar_feeds.conftest import URLS

_generated = SchemaGenerator(urlconf=URLS).get_schema(request=None, public=True)
_generated["paths"] = {
    path: item
    for path, item in _generated["paths"].items()
    if "/calendar" in path or path.endswith("/events/import/")
}
schema = schemathesis.openapi.from_dict(_generated)


@pytest.fixture
def keep_connection():
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def auth(db, keep_connection):
    from tests import factories as f

    world = build_world(f.WorkspaceFactory(slug="schemathesis-cal"))
    client = token_client(world.workspace, Role.ADMIN)
    return world, {"Authorization": f"Token {client.token}"}


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_calendar_and_feeds_conform(case, auth):
    world, headers = auth
    if "workspace_slug" in (case.path_parameters or {}):
        case.path_parameters["workspace_slug"] = world.workspace.slug
    case.call_and_validate(
        app=application,
        headers=headers,
        checks=[not_a_server_error, response_schema_conformance],
    )
