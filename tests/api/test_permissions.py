"""The permission matrix: every endpoint × every role → allowed or 403 (pretix style).

``REQUIRED`` is the specification, written by hand; the test checks it against the routers, so a
new endpoint without a line here fails :func:`test_matrix_covers_every_endpoint`.
"""

from __future__ import annotations

import pytest

from calendar_app.models import Role
from tests.api.conftest import ROUTES, call, token_client, url_for

V, E, AP, AD = Role.VIEWER, Role.EDITOR, Role.APPROVER, Role.ADMIN
READ = {"list": V, "retrieve": V}
CRUD_EDITOR = {**READ, "create": E, "update": E, "partial_update": E, "destroy": E}
CRUD_ADMIN = {**READ, "create": AD, "update": AD, "partial_update": AD, "destroy": AD}

REQUIRED: dict[str, dict[str, str]] = {
    "member": CRUD_ADMIN,
    "token": {"list": AD, "retrieve": AD, "create": AD, "destroy": AD},
    "brand": CRUD_ADMIN,
    "channel": {**CRUD_ADMIN, "test_connection": AD},
    "event": {**CRUD_EDITOR, "fit": E},
    "content-item": {
        **CRUD_EDITOR,
        "submit": E,
        "withdraw": E,
        "approve": AP,
        "reject": AP,
        "schedule": E,
        "reschedule": E,
        "cancel": E,
        "reopen": E,
        "preview": V,
    },
    "reactive-template": {**CRUD_EDITOR, "approve": AP, "fire": AP, "preview": V},
    "experiment": {
        **CRUD_EDITOR,
        "results": V,
        "timeseries": V,
        "start": E,
        "decide": AP,
        "promote": AP,
    },
    "variant": CRUD_EDITOR,
    "publication": {**READ, "retry": AP},
    "metric-snapshot": READ,
    "webhook-subscription": {
        **CRUD_ADMIN,
        "list": AD,
        "retrieve": AD,
        "rotate_secret": AD,
        "test": AD,
    },
    "webhook-delivery": {"list": AP, "retrieve": AP, "replay": AP},
    "media": CRUD_EDITOR,
    "connection": {"list": AD, "retrieve": AD, "create": AD, "choose": AD},
    # Feature packages (their own routers, same rules).
    "approval-policy": CRUD_ADMIN,
    "approval-step": CRUD_ADMIN,
    "approval-link-api": {"list": E, "retrieve": E, "create": E, "revoke": E},
    "content-item-approval-progress": {"list": V},
    "content-item-comment": {"list": V, "create": E},
    "audience": {"list": V, "retrieve": V, "create": E, "update": E, "partial_update": E},
    "subscriber": {"list": V, "retrieve": V, "create": E, "destroy": E},
    "audience-send": READ,
    "crisis-playbook": {
        **READ,
        "create": AP,
        "update": AP,
        "partial_update": AP,
        "destroy": AP,
        "activate": AP,
        "drill": E,
    },
    "crisis": {**READ, "held": V, "resume": AP},
    "moment": {
        **CRUD_EDITOR,
        "readiness": E,
        "fire": AP,
        "live": V,
        "report": V,
        "hold": E,
        "release": E,
        "holds": V,
    },
    "posting-slot": {**CRUD_EDITOR, "next_free": V, "queue": E},
    "content-import": {"create": E, "template": E},
    "content-series": {**READ, "create": E, "destroy": E, "edit_all": E},
    "evergreen-item": {**CRUD_EDITOR, "refill": E},
    "transition": READ,
    "approval-record": READ,
    "fire": READ,
    "listening-message": {**READ, "partial_update": E, "reply": E, "purge": AD},
    "listening-watch": CRUD_EDITOR,
    "listening-alert": {**READ, "acknowledge": E},
    "listening-policy": {"show": V, "change": AD},
    "listening-experiment-replies": {"retrieve": V},
}

ROLES = [V, E, AP, AD]


def test_matrix_covers_every_endpoint():
    served = {(c.basename, c.action) for c in ROUTES}
    specified = {(b, a) for b, actions in REQUIRED.items() for a in actions}
    assert served == specified, {"unspecified": served - specified, "gone": specified - served}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", ROUTES, ids=lambda c: c.id)
def test_role_matrix(case, role, world):
    required = REQUIRED[case.basename][case.action]
    client = token_client(world.workspace, role)
    response = call(client, case, url_for(case, world))
    if Role.at_least(role, required):
        assert response.status_code not in (401, 403, 404), (case.id, role, response.content)
        assert response.status_code < 500
    else:
        assert response.status_code == 403, (case.id, role, response.status_code, response.content)
        assert response.json()["code"] == "permission_denied"


def test_member_token_never_exceeds_its_member(world):
    """An admin-role token of a viewer member acts as a viewer."""
    from django.urls import reverse

    from tests import factories as f

    user = f.MembershipFactory(workspace=world.workspace, role=V).user
    client = token_client(world.workspace, AD, user=user)
    url = reverse("api:brand-list", kwargs={"workspace_slug": world.workspace.slug})
    assert client.get(url).status_code == 200
    assert client.post(url, {"name": "X", "slug": "x"}, format="json").status_code == 403


def test_token_of_a_removed_member_finds_no_workspace(world):
    from django.urls import reverse

    from tests import factories as f

    membership = f.MembershipFactory(workspace=world.workspace, role=AD)
    client = token_client(world.workspace, AD, user=membership.user)
    membership.delete()
    url = reverse("api:brand-list", kwargs={"workspace_slug": world.workspace.slug})
    assert client.get(url).status_code == 404


def test_anonymous_gets_401_with_the_error_shape(world):
    from django.urls import reverse
    from rest_framework.test import APIClient

    response = APIClient().get(
        reverse("api:brand-list", kwargs={"workspace_slug": world.workspace.slug})
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert set(response.json()) == {"code", "detail", "fields"}
