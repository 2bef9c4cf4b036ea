"""A first pass over every endpoint: an admin of the workspace gets no 500 anywhere."""

from __future__ import annotations

import pytest

from tests.api.conftest import ROUTES, call, url_for


@pytest.mark.parametrize("case", ROUTES, ids=lambda c: c.id)
def test_admin_never_gets_a_server_error(case, world, client_for):
    response = call(client_for("admin"), case, url_for(case, world))
    assert response.status_code < 500, response.content


def test_unknown_api_url_answers_in_the_api_error_shape(client) -> None:
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert client.get("/no-such-page/").status_code == 404
