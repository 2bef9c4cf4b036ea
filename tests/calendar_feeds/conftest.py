"""Fixtures for the calendar, feed and import tests: every test here runs on the test-local URLs
(the project's plus the routes these parts add)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from calendar_app.models import Role
from tests.api.conftest import token_client

URLS = "tests.calendar_feeds.urls"


@pytest.fixture(autouse=True)
def _urls_and_budget(settings):
    settings.ROOT_URLCONF = URLS
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client_for(workspace):
    """``client_for(role, ws=None)``: an APIClient with a workspace API key of that role."""

    def make(role: str = Role.ADMIN, ws=None):
        return token_client(ws or workspace, role)

    return make


def api(workspace, rest: str) -> str:
    return f"/api/v1/workspaces/{workspace.slug}/{rest}"
