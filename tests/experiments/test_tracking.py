"""Tracked links and the conversion endpoint."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calendar_app.models import Click, Conversion, ConversionKey
from calendar_app.tracking import is_bot, tracked_url_for
from calendar_app.tracking_views import signature_for

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.experiments.urls")]

HUMAN = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Safari/604.1"


@pytest.fixture
def link_path(experiment, make_publication):
    pub = make_publication(experiment.variants.get(key="bold"))
    url = tracked_url_for(pub, "https://shop.example.com/offer?utm_source=kairos#top")
    return urlsplit(url).path


def _click(client, path, ua=HUMAN, ip="203.0.113.7"):
    return client.get(path, HTTP_USER_AGENT=ua, REMOTE_ADDR=ip)


def test_redirect_appends_click_id_and_counts(client, link_path):
    response = _click(client, link_path)
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.netloc == "shop.example.com" and target.fragment == "top"
    query = parse_qs(target.query)
    assert query["utm_source"] == ["kairos"]
    click = Click.objects.get()
    assert query["kc"] == [click.token]
    assert click.is_counted
    assert response["Cache-Control"] == "private, no-store"


def test_fast_path_is_one_lookup_and_one_insert(client, link_path):
    with CaptureQueriesContext(connection) as ctx:
        _click(client, link_path)
    sql = [q["sql"].split()[0].upper() for q in ctx.captured_queries]
    if connection.vendor == "postgresql":  # the link, the (link, client) lock, the INSERT: one call
        assert sql == ["SELECT"]
        assert "kairos_click(" in ctx.captured_queries[0]["sql"]
        assert _commit_waits() == "off"  # for this transaction only
    else:
        assert sql == ["SELECT", "INSERT"]


def _commit_waits() -> str | None:
    """PostgreSQL's ``synchronous_commit`` for the current transaction (None on SQLite)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('synchronous_commit')")
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's function")
def test_every_migrate_leaves_the_click_function_as_the_code_defines_it():
    from calendar_app import click_function

    with connection.cursor() as cursor:
        cursor.execute(f"DROP FUNCTION {click_function.NAME}")
    with connection.cursor() as cursor:  # a former version, under its former name
        cursor.execute(
            "CREATE FUNCTION kairos_record_click(integer) RETURNS void LANGUAGE sql AS 'SELECT 1'"
        )
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_function_identity_arguments(oid), provolatile FROM pg_proc "
            "WHERE proname = ANY(%s)",
            [[click_function.NAME, *click_function.FORMER_NAMES]],
        )
        assert cursor.fetchall() == [
            (", ".join(f"{name} {kind}" for name, kind in _pg_types(click_function)), "v")
        ]


def _pg_types(click_function):
    spelled = {"timestamptz": "timestamp with time zone"}
    return [(name, spelled.get(kind, kind)) for name, kind in click_function.ARGUMENTS]


@override_settings(KAIROS_CLICK_DURABLE_COMMIT=True)
def test_a_durable_click_commit_waits_like_any_write(client, link_path):
    before = _commit_waits()
    with CaptureQueriesContext(connection) as ctx:
        _click(client, link_path)
    assert not any("synchronous_commit" in q["sql"] for q in ctx.captured_queries)
    assert _commit_waits() == before
    assert Click.objects.count() == 1


def test_bots_are_left_out(client, link_path):
    for ua in [
        "facebookexternalhit/1.1",
        "Twitterbot/1.0",
        "Mastodon/4.2.0 (http.rb/5.1.1; +https://example.social/)",
        "curl/8.4.0",
        "",
    ]:
        response = _click(client, link_path, ua=ua)
        assert response.status_code == 302
        assert "kc=" not in response["Location"]
    assert Click.objects.count() == 0
    assert not is_bot(HUMAN)


def test_repeat_within_window_counted_once_other_visitor_counted(client, link_path):
    _click(client, link_path)
    _click(client, link_path)
    _click(client, link_path, ip="198.51.100.9")
    assert Click.objects.count() == 3
    assert Click.objects.filter(is_counted=True).count() == 2


def test_repeat_after_window_counts_again(client, link_path):
    _click(client, link_path)
    Click.objects.update(clicked_at=timezone.now() - timedelta(minutes=31))
    _click(client, link_path)
    assert Click.objects.filter(is_counted=True).count() == 2


def test_no_raw_ip_or_user_agent_stored(client, link_path):
    _click(client, link_path, ip="203.0.113.77")
    row = Click.objects.values().get()
    flat = json.dumps(row, default=str)
    assert "203.0.113.77" not in flat and "iPhone" not in flat
    assert len(row["visitor_hash"]) == 64


def test_unknown_code_is_404(client):
    assert _click(client, "/r/nope").status_code == 404
    assert not Click.objects.exists()


def test_tracked_url_reused(experiment, make_publication):
    pub = make_publication(experiment.variants.get(key="bold"))
    assert tracked_url_for(pub, "https://a.example") == tracked_url_for(pub, "https://a.example")
    with pytest.raises(ValueError):
        tracked_url_for(pub, "javascript:alert(1)")


# --- conversions ------------------------------------------------------------------------------


@pytest.fixture
def key(workspace):
    return ConversionKey.issue(workspace=workspace, name="shop backend")


@pytest.fixture
def click_token(client, link_path):
    location = _click(client, link_path)["Location"]
    return parse_qs(urlsplit(location).query)["kc"][0]


def _post(client, key, payload, *, stamp=None, secret=None, raw=None):
    conversion_key, clear = key
    body = raw if raw is not None else json.dumps(payload).encode()
    stamp = int(time.time()) if stamp is None else stamp
    return client.post(
        "/api/v1/conversions/",
        data=body,
        content_type="application/json",
        HTTP_X_KAIROS_KEY=conversion_key.key_id,
        HTTP_X_KAIROS_TIMESTAMP=str(stamp),
        HTTP_X_KAIROS_SIGNATURE=signature_for(secret or clear, stamp, body),
    )


def test_conversion_attributed_to_click(client, key, click_token):
    response = _post(client, key, {"event_id": "order-1", "click_id": click_token, "value": 19.9})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["variant"] == "bold" and body["value"] == "19.90"
    conversion = Conversion.objects.get()
    assert conversion.click.token == click_token
    assert conversion.variant.key == "bold"


def test_secret_is_encrypted_at_rest(key):
    conversion_key, clear = key
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT secrets FROM {ConversionKey._meta.db_table} WHERE id = %s",
            [conversion_key.pk],
        )
        stored = cursor.fetchone()[0]
    assert clear not in stored


def test_bad_signature_refused(client, key, click_token):
    response = _post(client, key, {"event_id": "o", "click_id": click_token}, secret="wrong")
    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"
    missing = client.post("/api/v1/conversions/", data=b"{}", content_type="application/json")
    assert missing.status_code == 401
    assert Conversion.objects.count() == 0


def test_replay_outside_window_refused(client, key, click_token):
    old = int(time.time()) - 3600
    response = _post(client, key, {"event_id": "o", "click_id": click_token}, stamp=old)
    assert response.status_code == 401
    assert response.json()["code"] == "stale_timestamp"


def test_duplicate_event_id_is_idempotent(client, key, click_token):
    payload = {"event_id": "order-7", "click_id": click_token, "value": "5"}
    first = _post(client, key, payload)
    second = _post(client, key, payload)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Conversion.objects.count() == 1
    reused = _post(client, key, {**payload, "value": "6"})
    assert reused.status_code == 409
    assert "event_id" in reused.json()["fields"]


def test_unknown_click_is_a_field_error(client, key):
    response = _post(client, key, {"event_id": "o", "click_id": "no-such-click"})
    assert response.status_code == 400
    assert response.json()["fields"] == {"click_id": ["Unknown click id."]}


def test_click_of_another_workspace_is_unknown(client, click_token, other_workspace):
    foreign = ConversionKey.issue(workspace=other_workspace, name="other")
    response = _post(client, foreign, {"event_id": "o", "click_id": click_token})
    assert response.status_code == 400
    assert "click_id" in response.json()["fields"]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (b'{"click_id": "x"}', "event_id"),
        (b'{"event_id": "e", "click_id": "x", "value": "lots"}', "value"),
        (b'{"event_id": "e", "click_id": "x", "occurred_at": "yesterday"}', "occurred_at"),
        (b'{"event_id": "e", "click_id": "x", "currency": 12}', "currency"),
    ],
)
def test_malformed_input_is_400(client, key, raw, field):
    response = _post(client, key, None, raw=raw)
    assert response.status_code == 400
    if field:
        assert field in response.json()["fields"]


def test_revoked_key_refused(client, key, click_token):
    key[0].revoke()
    response = _post(client, key, {"event_id": "o", "click_id": click_token})
    assert response.status_code == 401
