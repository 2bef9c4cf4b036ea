"""The public one-click unsubscribe endpoint (RFC 8058): no login, idempotent, never a 500."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from calendar_app.audiences.models import SubscriberStatus
from calendar_app.audiences.services import unsubscribe_url
from tests.audiences.conftest import SubscriberFactory

pytestmark = pytest.mark.django_db
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def subscriber(audience):
    return SubscriberFactory(audience=audience, email="ada@example.org")


def path_of(subscriber) -> str:
    return f"/u/{subscriber.unsubscribe_token}/"


def test_the_url_is_built_on_the_public_base(subscriber):
    assert unsubscribe_url(subscriber.unsubscribe_token) == (
        f"https://kairos.example/u/{subscriber.unsubscribe_token}/"
    )


def test_get_shows_a_confirmation_and_changes_nothing(subscriber):
    response = Client().get(path_of(subscriber))
    assert response.status_code == 200
    page = response.content.decode()
    assert "ada@example.org" in page and 'name="List-Unsubscribe" value="One-Click"' in page
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.SUBSCRIBED


def test_one_click_post_unsubscribes_without_login_or_csrf(subscriber):
    client = Client(enforce_csrf_checks=True)
    response = client.post(path_of(subscriber), ONE_CLICK)
    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED
    assert "one-click" in subscriber.status_reason
    # Idempotent: again, same answer, nothing else changes.
    changed_at = subscriber.status_changed_at
    assert client.post(path_of(subscriber), ONE_CLICK).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status_changed_at == changed_at
    assert "not on" in client.get(path_of(subscriber)).content.decode()


def test_post_without_the_one_click_field_changes_nothing(subscriber):
    assert Client().post(path_of(subscriber), {}).status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.SUBSCRIBED


def test_unknown_tokens_answer_404(subscriber):
    assert Client().get("/u/" + "a" * 43 + "/").status_code == 404
    assert Client().post("/u/" + "a" * 43 + "/", ONE_CLICK).status_code == 404
    assert Client().get("/u/short/").status_code == 404
    assert Client().put(path_of(subscriber)).status_code == 405


@settings(max_examples=60, deadline=None)
@given(token=st.text(min_size=1, max_size=120).filter(lambda t: "/" not in t and "\x00" not in t))
def test_any_token_answers_404_never_500(token):
    from urllib.parse import quote

    response = Client().post(f"/u/{quote(token, safe='')}/", ONE_CLICK)
    assert response.status_code in (404, 400)
