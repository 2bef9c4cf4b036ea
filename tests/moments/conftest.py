"""Moment tests run the real sandbox plugin (files under a temporary directory)."""

from __future__ import annotations

import pytest

from calendar_app.models import Role
from calendar_app.reactive import approve_template
from tests import factories as f
from tests.admin.conftest import login, staff_member  # noqa: F401 (fixtures)
from tests.delivery.conftest import fresh_policies, sandbox_dir  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def _sandbox(sandbox_dir):  # noqa: F811 (the fixture above)
    return sandbox_dir


@pytest.fixture
def channel(brand):
    return f.ChannelFactory(brand=brand, workspace=brand.workspace)


@pytest.fixture
def armed(brand, channel, actor):
    """``armed(**template_fields)``: an approved template of ``brand`` on ``channel``."""

    def make(**fields):
        fields.setdefault("channels", [channel])
        template = f.ReactiveTemplateFactory(brand=brand, workspace=brand.workspace, **fields)
        return approve_template(template, actor(Role.APPROVER))

    return make


@pytest.fixture(autouse=True)
def _links_checked_by_form(settings):
    """Tests never call arbitrary URLs: links are checked by form unless a test serves them
    itself (tests/moments/test_readiness_reach.py)."""
    settings.KAIROS_READINESS_CHECK_LINKS = False
