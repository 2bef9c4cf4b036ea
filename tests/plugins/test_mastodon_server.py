"""Contract tests against mastodon-mock, a mock of Mastodon's API, not Mastodon.

No real Mastodon server can be installed here (see ``mastodon_server.py``). These tests
pin down, over real HTTP on 127.0.0.1 with httpx, what ``mastodon-mock`` (pinned in
``mastodon_server.MASTODON_MOCK_VERSION``) does for each call a Kairos Mastodon plugin
needs: posting (form and JSON), threads, idempotent retries, instance limits, media,
interaction counts, deletion, the connection test, error shapes, rate limits and the
OAuth app/authorize/token flow. They import nothing from Kairos.

Where the mock departs from Mastodon's documented behaviour (docs.joinmastodon.org,
``content/en/methods/*.md`` of mastodon/documentation) the test states what Mastodon
does and calls ``gap(...)``, which SKIPS with the difference as its reason: a gap is a
known limit of the mock, not a failure, and ``pytest -ra`` lists them all. Should a
newer mock (or a contract server of our own) implement the real behaviour, the same
test stops skipping and asserts it.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.plugins.mastodon_server import (  # noqa: F401  (mastodon_fixture is a fixture)
    MASTODON_MOCK_VERSION,
    MOCK_TOKEN,
    MastodonMock,
    mastodon_fixture,
    mastodon_mock_python_or_skip,
)

pytestmark = pytest.mark.e2e

OOB = "urn:ietf:wg:oauth:2.0:oob"


def gap(what: str) -> None:
    """Record a behaviour the mock lacks: skip, with the difference as the reason."""
    pytest.skip(f"mastodon-mock {MASTODON_MOCK_VERSION} gap: {what}")


def tiny_png() -> bytes:
    """A valid 1x1 RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x80\x00"))
        + chunk(b"IEND", b"")
    )


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:8]}"


@pytest.fixture
def api(mastodon: MastodonMock) -> Iterator[httpx.Client]:
    """The account a plugin posts as (``testuser``, token ``mock_token``)."""
    with httpx.Client(base_url=mastodon.base_url, headers=mastodon.headers(), timeout=30) as c:
        yield c


@pytest.fixture
def fan(mastodon: MastodonMock) -> Iterator[httpx.Client]:
    """A second local account (``fan``) that favourites, boosts and replies."""
    headers = mastodon.headers(mastodon.fan_token)
    with httpx.Client(base_url=mastodon.base_url, headers=headers, timeout=30) as c:
        yield c


@pytest.fixture
def anon(mastodon: MastodonMock) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mastodon.base_url, timeout=30) as c:
        yield c


def post_ok(client: httpx.Client, **kwargs: Any) -> dict[str, Any]:
    resp = client.post("/api/v1/statuses", **kwargs)
    assert resp.status_code == 200, resp.text
    return resp.json()


def upload_png(client: httpx.Client, path: str = "/api/v2/media", **data: str) -> httpx.Response:
    return client.post(path, files={"file": ("pixel.png", tiny_png(), "image/png")}, data=data)


# -- the server itself ---------------------------------------------------------------


def test_fixture_is_the_pinned_mock_on_loopback(mastodon: MastodonMock, anon: httpx.Client):
    assert mastodon.base_url.startswith("http://127.0.0.1:")
    assert mastodon.token == MOCK_TOKEN == "mock_token"
    assert anon.get("/health").text == "OK"
    # Every response carries "Server: Mastodon", as a real instance's does.
    assert anon.get("/api/v2/instance").headers["server"] == "Mastodon"
    assert mastodon.startup_seconds is not None and mastodon.startup_seconds < 30


# -- POST /api/v1/statuses -----------------------------------------------------------


def test_post_form_encoded_round_trips_every_field(api: httpx.Client):
    text = unique("form post")
    status = post_ok(
        api,
        data={
            "status": text,
            "visibility": "unlisted",
            "language": "fr",
            "spoiler_text": "CW: test",
            "sensitive": "true",
        },
    )
    assert isinstance(status["id"], str) and status["id"].isdigit()  # ids are strings
    assert status["content"] == f"<p>{text}</p>"
    assert status["visibility"] == "unlisted"
    assert status["language"] == "fr"
    assert status["spoiler_text"] == "CW: test"
    assert status["sensitive"] is True
    assert status["in_reply_to_id"] is None
    assert status["account"]["username"] == "testuser"
    assert status["url"].startswith("http://127.0.0.1:")  # links point back at the mock
    assert api.get(f"/api/v1/statuses/{status['id']}").json() == status


def test_post_json_round_trips_every_field(api: httpx.Client):
    status = post_ok(
        api,
        json={
            "status": unique("json post"),
            "visibility": "private",
            "language": "de",
            "spoiler_text": "",
            "sensitive": False,
        },
    )
    assert (status["visibility"], status["language"], status["sensitive"]) == (
        "private",
        "de",
        False,
    )
    assert status["spoiler_text"] == ""


@pytest.mark.parametrize("visibility", ["public", "unlisted", "private", "direct"])
def test_each_documented_visibility_is_kept(api: httpx.Client, visibility: str):
    status = post_ok(api, data={"status": unique("vis"), "visibility": visibility})
    assert status["visibility"] == visibility


def test_visibility_defaults_to_public(api: httpx.Client):
    assert post_ok(api, data={"status": unique("default vis")})["visibility"] == "public"


def test_thread_with_in_reply_to_id(api: httpx.Client):
    root = post_ok(api, data={"status": unique("1/3")})
    second = post_ok(api, data={"status": unique("2/3"), "in_reply_to_id": root["id"]})
    third = post_ok(api, json={"status": unique("3/3"), "in_reply_to_id": second["id"]})
    assert second["in_reply_to_id"] == root["id"]
    assert second["in_reply_to_account_id"] == root["account"]["id"]
    assert third["in_reply_to_id"] == second["id"]

    context = api.get(f"/api/v1/statuses/{second['id']}/context").json()
    assert [s["id"] for s in context["ancestors"]] == [root["id"]]
    assert [s["id"] for s in context["descendants"]] == [third["id"]]
    assert api.get(f"/api/v1/statuses/{root['id']}").json()["replies_count"] == 1


def test_idempotency_key_returns_the_first_status(api: httpx.Client, fan: httpx.Client):
    key = f"kairos-{uuid.uuid4()}"
    first = post_ok(api, data={"status": unique("idem")}, headers={"Idempotency-Key": key})
    again = post_ok(api, data={"status": "a different body"}, headers={"Idempotency-Key": key})
    assert again["id"] == first["id"]
    assert again["content"] == first["content"]  # the stored status, not the new body

    # As in Mastodon, the key is looked up before the body is validated: a retry
    # whose body would be invalid still gets the stored status.
    empty = post_ok(api, data={"status": ""}, headers={"Idempotency-Key": key})
    assert empty["id"] == first["id"]

    # Keys are per account (Mastodon: redis "idempotency:status:<account>:<key>").
    other = post_ok(fan, data={"status": unique("fan idem")}, headers={"Idempotency-Key": key})
    assert other["id"] != first["id"]
    # A new key is a new status.
    fresh = post_ok(api, data={"status": unique("idem 2")}, headers={"Idempotency-Key": key + "x"})
    assert fresh["id"] != first["id"]
    # Gap, not testable here: Mastodon forgets a key after 3600 s (redis SETEX); the
    # mock keeps it for the server's lifetime (a SQLite table, no expiry).


def test_500_characters_is_the_limit(api: httpx.Client):
    assert post_ok(api, data={"status": "x" * 500})["content"] == f"<p>{'x' * 500}</p>"
    resp = api.post("/api/v1/statuses", data={"status": "x" * 501})
    assert resp.status_code == 422
    assert resp.json() == {
        "error": "Validation failed: Text is too long (maximum is 500 characters)"
    }


def test_gap_urls_count_as_23_characters(api: httpx.Client):
    # Mastodon counts every URL as characters_reserved_per_url (23) characters and a
    # remote mention as its local part only: 470 + 1 + 23 = 494 <= 500 here, although
    # the raw text is 591 characters long.
    text = "x" * 470 + " https://example.com/" + "a" * 100
    resp = api.post("/api/v1/statuses", data={"status": text})
    if resp.status_code == 422:
        gap(
            "counts len(text) (591 here) against max_characters; Mastodon counts each URL as "
            "23 characters, so it accepts this 494-character status"
        )
    assert resp.status_code == 200, resp.text


def test_gap_unknown_visibility_is_rejected(api: httpx.Client):
    resp = api.post("/api/v1/statuses", data={"status": unique("bad vis"), "visibility": "bogus"})
    if resp.status_code == 200:
        assert resp.json()["visibility"] == "bogus"
        gap(
            "stores any visibility string verbatim (visibility='bogus' -> 200); Mastodon "
            "accepts only public/unlisted/private/direct and answers 422 otherwise"
        )
    assert resp.status_code == 422


def test_gap_invalid_language_falls_back(api: httpx.Client):
    resp = api.post("/api/v1/statuses", data={"status": unique("lang"), "language": "zzzz"})
    assert resp.status_code == 200, resp.text
    if resp.json()["language"] == "zzzz":
        gap(
            "stores any language string verbatim; Mastodon keeps only a known ISO 639 code "
            "and otherwise falls back to the user's posting language / the default locale"
        )
    assert resp.json()["language"] != "zzzz"


def test_gap_spoiler_text_implies_sensitive(api: httpx.Client):
    status = post_ok(api, data={"status": unique("cw"), "spoiler_text": "spoilers"})
    if status["sensitive"] is False:
        gap(
            "spoiler_text without sensitive gives sensitive=false; Mastodon sets "
            "sensitive=true whenever spoiler_text is present"
        )
    assert status["sensitive"] is True


def test_gap_reply_to_unknown_status_is_404(api: httpx.Client):
    resp = api.post(
        "/api/v1/statuses", data={"status": unique("orphan"), "in_reply_to_id": "999999999"}
    )
    if resp.status_code == 200:
        assert resp.json()["in_reply_to_id"] == "999999999"  # a dangling reply
        gap(
            "accepts in_reply_to_id of a status that does not exist (200, dangling "
            "in_reply_to_id, in_reply_to_account_id null); Mastodon answers 404 "
            '{"error": "The post you are trying to reply to does not appear to exist."}'
        )
    assert resp.status_code == 404


def test_gap_status_names_the_posting_application(mastodon: MastodonMock, anon: httpx.Client):
    app = anon.post("/api/v1/apps", data={"client_name": "Kairos", "redirect_uris": OOB}).json()
    token = anon.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": "mockcode_testuser",  # see test_oauth_authorization_code_flow
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": OOB,
        },
    ).json()["access_token"]
    status = post_ok(anon, data={"status": unique("via app")}, headers=mastodon.headers(token))
    if status["application"] is None:
        gap(
            'Status.application is always null; Mastodon fills {"name", "website"} from the '
            "OAuth application of the token that posted"
        )
    assert status["application"]["name"] == "Kairos"


# -- instance metadata ---------------------------------------------------------------

EXPECTED_STATUS_CONFIG = {
    "max_characters": 500,
    "max_media_attachments": 4,
    "characters_reserved_per_url": 23,
}
EXPECTED_MEDIA_CONFIG = {
    "supported_mime_types": ["image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4"],
    "image_size_limit": 10485760,  # 10 MiB (mastodon.social advertises 16777216)
    "image_matrix_limit": 16777216,
    "video_size_limit": 41943040,  # 40 MiB (mastodon.social: 103809024)
    "video_frame_rate_limit": 60,
    "video_matrix_limit": 2304000,
}


@pytest.mark.parametrize("path", ["/api/v1/instance", "/api/v2/instance"])
def test_instance_configuration(anon: httpx.Client, path: str):
    resp = anon.get(path)  # public, no token
    assert resp.status_code == 200
    body = resp.json()
    assert body["version"] == "4.6.0"
    config = body["configuration"]
    assert config["statuses"] == EXPECTED_STATUS_CONFIG
    assert config["media_attachments"] == EXPECTED_MEDIA_CONFIG
    assert config["polls"]["max_options"] == 4
    if path == "/api/v2/instance":
        assert body["domain"].startswith("127.0.0.1:")
        assert body["api_versions"] == {"mastodon": 10}
    else:
        assert body["uri"].startswith("127.0.0.1:")
    # Gaps (recorded, not asserted): the limits are constants in the mock (no config
    # knob), so an instance with e.g. max_characters=1000 cannot be imitated; v2 lacks
    # configuration.media_attachments.description_limit (Mastodon 4.4+, 1500 on
    # mastodon.social), configuration.vapid, configuration.urls.status/about/...,
    # registrations.min_age/reason_required.


def test_gap_instance_advertises_description_limit(anon: httpx.Client):
    media = anon.get("/api/v2/instance").json()["configuration"]["media_attachments"]
    if "description_limit" not in media:
        gap(
            "/api/v2/instance has no configuration.media_attachments.description_limit "
            "(Mastodon >= 4.4; alt text longer than it is a 422)"
        )


# -- media ---------------------------------------------------------------------------


def test_media_v2_upload_is_synchronous_and_served(api: httpx.Client, anon: httpx.Client):
    resp = upload_png(api, description="a red pixel", focus="0.5,-0.25")
    # Mastodon >= 4.0: 200 for small images processed synchronously, 202 (url null)
    # for video/gifv/audio or large files. The mock always answers 200.
    assert resp.status_code == 200, resp.text
    media = resp.json()
    assert media["type"] == "image"
    assert media["description"] == "a red pixel"
    assert media["meta"]["focus"] == {"x": 0.5, "y": -0.25}
    assert media["url"] and media["url"].startswith("http://127.0.0.1:")
    assert media["preview_url"] == media["url"]
    assert set(media) >= {"id", "type", "url", "preview_url", "remote_url", "text_url", "blurhash"}

    polled = api.get(f"/api/v1/media/{media['id']}")
    assert polled.status_code == 200 and polled.json() == media
    assert anon.get(media["url"]).content == tiny_png()  # the bytes are served back

    updated = api.put(f"/api/v1/media/{media['id']}", data={"description": "new alt"})
    assert updated.json()["description"] == "new alt"


def test_media_v1_upload_works_too(api: httpx.Client):
    resp = upload_png(api, path="/api/v1/media")
    assert resp.status_code == 200 and resp.json()["url"]


def test_gap_media_v2_async_processing(api: httpx.Client):
    resp = api.post("/api/v2/media", files={"file": ("clip.mp4", b"\x00" * 4096, "video/mp4")})
    if resp.status_code == 200 and resp.json()["url"]:
        gap(
            "POST /api/v2/media is always synchronous (200, url set, even for video); "
            "Mastodon answers 202 with url null for video/gifv/audio/large files and "
            "GET /api/v1/media/:id answers 206 until processing ends, then 200 with url"
        )
    assert resp.status_code == 202 and resp.json()["url"] is None


def test_gap_media_type_and_size_are_validated(api: httpx.Client):
    bad = api.post(
        "/api/v2/media", files={"file": ("tool.exe", b"MZ" * 64, "application/x-msdownload")}
    )
    if bad.status_code == 200:
        assert bad.json()["type"] == "unknown"
        gap(
            "any file is accepted (application/x-msdownload -> 200, type 'unknown') and "
            "image_size_limit/video_size_limit are not enforced; Mastodon answers 422 "
            '{"error": "Validation failed: File content type is invalid, File is invalid"} '
            "(or a file-size message)"
        )
    assert bad.status_code == 422


def test_missing_file_is_422(api: httpx.Client):
    resp = api.post("/api/v2/media", data={"description": "no file"})
    assert resp.status_code == 422
    # FastAPI validation, Mastodon-shaped: {"error": ..., "details": {...}}.
    assert resp.json()["error"] == "Validation failed: file Field required"


def test_attach_media_with_media_ids(api: httpx.Client):
    form_media = upload_png(api).json()
    form = post_ok(api, data={"status": unique("form media"), "media_ids[]": [form_media["id"]]})
    assert [m["id"] for m in form["media_attachments"]] == [form_media["id"]]

    json_media = [upload_png(api).json()["id"] for _ in range(2)]
    body = post_ok(api, json={"status": unique("json media"), "media_ids": json_media})
    assert [m["id"] for m in body["media_attachments"]] == json_media

    # media without text is allowed (status becomes optional with media_ids).
    only = post_ok(api, json={"status": "", "media_ids": [upload_png(api).json()["id"]]})
    assert len(only["media_attachments"]) == 1
    # Gap (cosmetic, recorded): the mock renders empty text as "<p></p>"; Mastodon's
    # content for a media-only status is "".
    assert only["content"] == "<p></p>"


def test_more_than_four_media_is_422(api: httpx.Client):
    ids = [upload_png(api).json()["id"] for _ in range(5)]
    resp = api.post("/api/v1/statuses", json={"status": unique("5 media"), "media_ids": ids})
    assert resp.status_code == 422
    # Mastodon's text is "Cannot attach more than 4 files"; only the status matches.
    assert resp.json() == {
        "error": "Validation failed: Media attachments count is too high (maximum is 4)"
    }


def test_gap_unknown_or_attached_media_is_422(api: httpx.Client):
    media = upload_png(api).json()
    first = post_ok(api, json={"status": unique("owner"), "media_ids": [media["id"]]})
    resp = api.post(
        "/api/v1/statuses", json={"status": unique("thief"), "media_ids": [media["id"]]}
    )
    if resp.status_code == 200:
        # The attachment silently MOVES to the new status; the first one loses it.
        assert api.get(f"/api/v1/statuses/{first['id']}").json()["media_attachments"] == []
        gap(
            "media_ids of unknown, already attached or another account's media are "
            "silently dropped or moved (200); Mastodon answers 422 "
            '{"error": "Media <ids> not found or already attached to another post"}'
        )
    assert resp.status_code == 422


def test_gap_media_of_another_account_is_404(api: httpx.Client, fan: httpx.Client):
    media = upload_png(api).json()
    resp = fan.get(f"/api/v1/media/{media['id']}")
    if resp.status_code == 200:
        gap(
            "GET/PUT /api/v1/media/:id ignore ownership (and PUT needs no token); Mastodon "
            'answers 404 {"error": "Record not found"} for media not owned by the token\'s user'
        )
    assert resp.status_code == 404


# -- interaction counts --------------------------------------------------------------


def counts(client: httpx.Client, status_id: str) -> tuple[int, int, int]:
    s = client.get(f"/api/v1/statuses/{status_id}").json()
    return s["favourites_count"], s["reblogs_count"], s["replies_count"]


def test_counts_move_with_another_accounts_favourite_boost_and_reply(
    api: httpx.Client, fan: httpx.Client, anon: httpx.Client
):
    status = post_ok(api, data={"status": unique("count me")})
    sid = status["id"]
    assert (status["favourites_count"], status["reblogs_count"], status["replies_count"]) == (
        0,
        0,
        0,
    )

    fav = fan.post(f"/api/v1/statuses/{sid}/favourite")
    assert fav.status_code == 200
    assert fav.json()["favourited"] is True and fav.json()["favourites_count"] == 1
    assert (
        fan.post(f"/api/v1/statuses/{sid}/favourite").json()["favourites_count"] == 1
    )  # idempotent

    boost = fan.post(f"/api/v1/statuses/{sid}/reblog")
    assert boost.status_code == 200
    assert boost.json()["id"] != sid and boost.json()["reblog"]["id"] == sid  # the wrapper
    post_ok(fan, data={"status": unique("nice!"), "in_reply_to_id": sid})

    assert counts(api, sid) == (1, 1, 1)
    assert counts(anon, sid) == (1, 1, 1)  # public statuses need no token
    assert [a["username"] for a in api.get(f"/api/v1/statuses/{sid}/favourited_by").json()] == [
        "fan"
    ]
    assert [a["username"] for a in api.get(f"/api/v1/statuses/{sid}/reblogged_by").json()] == [
        "fan"
    ]

    # Favouriting one's own status counts too (as in Mastodon).
    assert api.post(f"/api/v1/statuses/{sid}/favourite").json()["favourites_count"] == 2

    fan.post(f"/api/v1/statuses/{sid}/unfavourite")
    fan.post(f"/api/v1/statuses/{sid}/unreblog")
    assert counts(api, sid) == (1, 0, 1)


def test_favourite_unknown_status_is_404(fan: httpx.Client):
    resp = fan.post("/api/v1/statuses/999999999/favourite")
    assert resp.status_code == 404 and resp.json() == {"error": "Record not found"}


def test_gap_reblog_response_says_reblogged(api: httpx.Client, fan: httpx.Client):
    sid = post_ok(api, data={"status": unique("boost me")})["id"]
    wrapper = fan.post(f"/api/v1/statuses/{sid}/reblog").json()
    if wrapper["reblogged"] is False:
        gap(
            "the reblog wrapper returned to the booster has reblogged=false; Mastodon "
            "returns reblogged=true on the wrapper and on wrapper.reblog"
        )
    assert wrapper["reblogged"] is True and wrapper["reblog"]["reblogged"] is True


# -- DELETE /api/v1/statuses/:id -----------------------------------------------------


def test_delete_status(api: httpx.Client):
    text = unique("delete me")
    sid = post_ok(api, data={"status": text})["id"]
    resp = api.delete(f"/api/v1/statuses/{sid}")
    assert resp.status_code == 200
    deleted = resp.json()
    # As documented: the deleted Status, plus its source "text" for delete-and-redraft.
    assert deleted["id"] == sid and deleted["text"] == text
    assert api.get(f"/api/v1/statuses/{sid}").status_code == 404
    again = api.delete(f"/api/v1/statuses/{sid}")
    assert again.status_code == 404 and again.json() == {"error": "Record not found"}


def test_delete_with_delete_media(api: httpx.Client):
    media_id = upload_png(api).json()["id"]
    sid = post_ok(api, json={"status": unique("media"), "media_ids": [media_id]})["id"]
    assert api.delete(f"/api/v1/statuses/{sid}", params={"delete_media": "true"}).status_code == 200
    assert api.get(f"/api/v1/media/{media_id}").status_code == 404


def test_gap_deleting_another_accounts_status_is_404(api: httpx.Client, fan: httpx.Client):
    sid = post_ok(api, data={"status": unique("not yours")})["id"]
    resp = fan.delete(f"/api/v1/statuses/{sid}")
    assert resp.status_code in (403, 404)
    assert api.get(f"/api/v1/statuses/{sid}").status_code == 200  # still there
    if resp.status_code == 403:
        assert resp.json() == {"error": "This action is not allowed"}
        gap(
            "deleting another account's status answers 403 "
            '{"error": "This action is not allowed"}; Mastodon answers 404 '
            '{"error": "Record not found"} (it looks only among your own statuses)'
        )


# -- GET /api/v1/accounts/verify_credentials (the connection test) -------------------


def test_verify_credentials(api: httpx.Client, fan: httpx.Client):
    resp = api.get("/api/v1/accounts/verify_credentials")
    assert resp.status_code == 200
    me = resp.json()
    assert (me["username"], me["acct"], me["display_name"]) == ("testuser", "testuser", "Test User")
    assert me["id"].isdigit()
    assert me["url"].endswith("/@testuser")
    assert me["source"]["privacy"] == "public"  # CredentialAccount carries "source"
    assert fan.get("/api/v1/accounts/verify_credentials").json()["username"] == "fan"


# -- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{"Authorization": "Bearer not-a-token"}, {}], ids=["bad-token", "no-token"]
)
def test_bad_or_missing_token_is_401(anon: httpx.Client, headers: dict[str, str]):
    for method, path, kw in [
        ("GET", "/api/v1/accounts/verify_credentials", {}),
        ("POST", "/api/v1/statuses", {"data": {"status": "x"}}),
        ("POST", "/api/v2/media", {"files": {"file": ("p.png", tiny_png(), "image/png")}}),
    ]:
        resp = anon.request(method, path, headers=headers, **kw)
        assert resp.status_code == 401, (method, path)
        # Mastodon's text is "The access token is invalid"; the shape is the same.
        assert resp.json() == {"error": "This method requires an authenticated user"}


def test_gap_401_message_is_mastodons(anon: httpx.Client):
    resp = anon.get(
        "/api/v1/accounts/verify_credentials", headers={"Authorization": "Bearer not-a-token"}
    )
    if resp.json()["error"] != "The access token is invalid":
        gap(
            f"401 body is {resp.json()!r}; Mastodon's is "
            '{"error": "The access token is invalid"}'
        )


def test_gap_app_token_on_a_user_endpoint_is_422(anon: httpx.Client, mastodon: MastodonMock):
    app = anon.post("/api/v1/apps", data={"client_name": "Kairos", "redirect_uris": OOB}).json()
    token = anon.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
        },
    ).json()["access_token"]
    resp = anon.get("/api/v1/accounts/verify_credentials", headers=mastodon.headers(token))
    if resp.status_code == 401:
        gap(
            "an app-only (client_credentials) token on a user endpoint gets 401; Mastodon "
            'answers 422 {"error": "This method requires an authenticated user"}'
        )
    assert resp.status_code == 422


def test_unknown_status_is_404(api: httpx.Client, anon: httpx.Client):
    for client in (api, anon):
        for sid in ("999999999", "not-a-number"):
            resp = client.get(f"/api/v1/statuses/{sid}")
            assert resp.status_code == 404
            assert resp.json() == {"error": "Record not found"}


@pytest.mark.parametrize(
    "kwargs",
    [{"data": {"status": ""}}, {"data": {"status": "   "}}, {"data": {}}, {"json": {"status": ""}}],
    ids=["form-empty", "form-blank", "form-missing", "json-empty"],
)
def test_empty_status_is_422(api: httpx.Client, kwargs: dict[str, Any]):
    resp = api.post("/api/v1/statuses", **kwargs)
    assert resp.status_code == 422
    assert resp.json() == {"error": "Validation failed: Text can't be blank"}  # Mastodon's text


def test_gap_spoiler_text_alone_becomes_the_text(api: httpx.Client):
    resp = api.post("/api/v1/statuses", data={"status": "", "spoiler_text": "only a CW"})
    if resp.status_code == 422:
        gap(
            "an empty status with a spoiler_text is 422 'Text can't be blank'; Mastodon "
            "posts it, using the spoiler_text as the text (and marking it sensitive)"
        )
    assert resp.status_code == 200


def test_default_server_sends_no_rate_limit_headers(api: httpx.Client):
    resp = api.get("/api/v1/accounts/verify_credentials")
    assert not any(h.lower().startswith("x-ratelimit") for h in resp.headers)
    # Gap: Mastodon sends X-RateLimit-Limit/Remaining/Reset on API responses (300
    # requests per 5 minutes per token; POST /api/v1/statuses also reports its own
    # family, 300 per 3 hours; media uploads 30 per 30 min; deletes 30 per 30 min).
    # The mock sends them only with the opt-in limiter below.


def test_opt_in_rate_limit_gives_429_and_headers():
    python = mastodon_mock_python_or_skip()
    # (the second context manager is entered after the first, so mock.base_url is set)
    with (
        MastodonMock(python, rate_limit=(4, 300)) as mock,
        httpx.Client(base_url=mock.base_url, headers=mock.headers(), timeout=30) as c,
    ):
        # The start-up probe already used 1 of this token's 4 requests.
        seen = []
        for i in range(4):
            resp = c.post("/api/v1/statuses", data={"status": f"limited {i}"})
            seen.append((resp.status_code, resp.headers["X-RateLimit-Remaining"]))
        assert seen == [(200, "2"), (200, "1"), (200, "0"), (429, "0")]
        assert resp.json() == {"error": "Too many requests"}  # Mastodon's text too
        assert resp.headers["X-RateLimit-Limit"] == "4"
        reset = resp.headers["X-RateLimit-Reset"]
        # Gap: the mock's Reset is epoch seconds ("1796000614"); Mastodon's is an
        # ISO 8601 time with microseconds ("2026-11-30T01:05:00.000000Z").
        assert reset.isdigit()
        assert "Retry-After" not in resp.headers
        # Per token: another token still gets through.
        other = c.get("/api/v1/accounts/verify_credentials", headers=mock.headers(mock.fan_token))
        assert other.status_code == 200


def test_fault_injected_429(mastodon: MastodonMock, api: httpx.Client):
    """Mock-only control plane: force the next POST /api/v1/statuses to be a 429."""
    mastodon.add_fault(
        {
            "match": {"methods": ["POST"], "path": "/api/v1/statuses"},
            "effect": {"type": "ratelimit"},
            "count": 1,
        }
    )
    try:
        resp = api.post("/api/v1/statuses", data={"status": unique("throttled")})
        assert resp.status_code == 429
        assert resp.json() == {"error": "Too many requests"}
        assert resp.headers["X-RateLimit-Limit"] == "300"
        assert resp.headers["X-RateLimit-Remaining"] == "0"
        assert resp.headers["X-RateLimit-Reset"].isdigit()  # epoch seconds, see above
        assert resp.headers["Retry-After"] == "300"  # Mastodon sends no Retry-After
        # count=1: the rule is spent, the retry goes through.
        post_ok(api, data={"status": unique("after the fault")})
    finally:
        mastodon.clear_faults()


# -- OAuth ---------------------------------------------------------------------------


def test_app_registration(anon: httpx.Client):
    resp = anon.post(
        "/api/v1/apps",
        data={
            "client_name": "Kairos",
            "redirect_uris": "http://127.0.0.1:9/callback",
            "scopes": "read write",
            "website": "https://kairos.example",
        },
    )
    assert resp.status_code == 200
    app = resp.json()
    assert app["name"] == "Kairos" and app["website"] == "https://kairos.example"
    assert app["redirect_uris"] == ["http://127.0.0.1:9/callback"]
    assert app["redirect_uri"] == "http://127.0.0.1:9/callback"
    assert app["scopes"] == ["read", "write"]
    assert app["client_id"] and app["client_secret"]
    # Gap (recorded): no "client_secret_expires_at" (Mastodon >= 4.4 sends 0).
    assert "client_secret_expires_at" not in app

    as_json = anon.post(
        "/api/v1/apps",
        json={"client_name": "Kairos", "redirect_uris": [OOB], "scopes": "write:statuses"},
    ).json()
    assert as_json["redirect_uris"] == [OOB] and as_json["scopes"] == ["write:statuses"]

    nameless = anon.post("/api/v1/apps", data={"redirect_uris": OOB})
    assert nameless.status_code == 422
    assert nameless.json() == {"error": "Validation failed: Client name can't be blank"}


def test_gap_app_registration_validates_redirect_uris(anon: httpx.Client):
    resp = anon.post("/api/v1/apps", data={"client_name": "x", "redirect_uris": "not a uri"})
    if resp.status_code == 200:
        gap(
            "redirect_uris are not validated; Mastodon answers 422 "
            '{"error": "Validation failed: Redirect URI must be an absolute URI."}'
        )
    assert resp.status_code == 422


def test_oauth_authorization_code_flow(anon: httpx.Client, mastodon: MastodonMock):
    redirect = "http://127.0.0.1:9/callback"
    app = anon.post(
        "/api/v1/apps",
        data={"client_name": "Kairos", "redirect_uris": redirect, "scopes": "read write"},
    ).json()

    # 1. /oauth/authorize renders an account picker (no login, no consent screen).
    page = anon.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": app["client_id"],
            "redirect_uri": redirect,
            "scope": "read write",
            "state": "xyz",
        },
    )
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'name="username" value="testuser"' in page.text

    # 2. "Clicking" an account posts the form back; the mock redirects with a code.
    chosen = anon.post(
        "/oauth/authorize",
        data={
            "username": "testuser",
            "redirect_uri": redirect,
            "client_id": app["client_id"],
            "scope": "read write",
            "state": "xyz",
        },
    )
    assert chosen.status_code == 302
    assert chosen.headers["location"] == f"{redirect}?code=mockcode_testuser&state=xyz"

    # 3. The code is exchanged for a user token.
    resp = anon.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": "mockcode_testuser",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": redirect,
        },
    )
    assert resp.status_code == 200
    token = resp.json()
    assert token["token_type"] == "Bearer" and token["scope"] == "read write"
    assert isinstance(token["created_at"], int) and token["access_token"]
    headers = mastodon.headers(token["access_token"])
    me = anon.get("/api/v1/accounts/verify_credentials", headers=headers)
    assert me.json()["username"] == "testuser"
    app_info = anon.get("/api/v1/apps/verify_credentials", headers=headers).json()
    assert app_info["name"] == "Kairos"

    # oob: the code is shown on a page instead of a redirect.
    oob = anon.post("/oauth/authorize", data={"username": "fan", "redirect_uri": OOB})
    assert "Authorization code: mockcode_fan" in oob.text

    # 4. Revocation works; the token is then rejected.
    revoke = anon.post(
        "/oauth/revoke",
        data={
            "token": token["access_token"],
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
        },
    )
    assert revoke.status_code == 200 and revoke.json() == {}
    assert anon.get("/api/v1/accounts/verify_credentials", headers=headers).status_code == 401


def test_oauth_token_errors(anon: httpx.Client):
    bad_code = anon.post("/oauth/token", data={"grant_type": "authorization_code", "code": "nope"})
    assert bad_code.status_code == 400
    # Mastodon adds "error_description" to OAuth errors.
    assert bad_code.json() == {"error": "invalid_grant"}
    password = anon.post(
        "/oauth/token", data={"grant_type": "password", "username": "u", "password": "p"}
    )
    assert password.status_code == 400 and password.json() == {"error": "unsupported_grant_type"}


def test_gap_oauth_token_checks_client_and_code(anon: httpx.Client):
    app = anon.post("/api/v1/apps", data={"client_name": "Kairos", "redirect_uris": OOB}).json()
    # A wrong client_secret, a redirect_uri never registered, a code never issued by
    # /oauth/authorize and used twice: Mastodon refuses all of this.
    resp = anon.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": "mockcode_fan",
            "client_id": app["client_id"],
            "client_secret": "WRONG",
            "redirect_uri": "http://elsewhere.invalid/cb",
        },
    )
    if resp.status_code == 200:
        gap(
            "/oauth/token (authorization_code) checks neither client_secret, redirect_uri, "
            "PKCE code_verifier nor single use; codes are the predictable "
            "'mockcode_<username>'. Mastodon answers 401 invalid_client for a bad "
            "client, 400 invalid_grant for a bad/used code or redirect_uri mismatch "
            '({"error": ..., "error_description": ...})'
        )
    assert resp.status_code in (400, 401)


def test_gap_oauth_authorize_checks_client_and_redirect(anon: httpx.Client):
    resp = anon.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": "unknown-client",
            "redirect_uri": "http://elsewhere.invalid/cb",
        },
    )
    if resp.status_code == 200:
        gap(
            "/oauth/authorize accepts an unknown client_id and an unregistered "
            "redirect_uri; Mastodon shows an OAuth error instead of the form"
        )
    assert resp.status_code >= 400


def test_gap_search_matches_inside_words_and_ignores_min_id(api: httpx.Client, fan: httpx.Client):
    word = unique("srch").replace(" ", "")
    first = fan.post("/api/v1/statuses", data={"status": f"{word} one"}).json()["id"]
    fan.post("/api/v1/statuses", data={"status": f"x{word}y two"}).raise_for_status()
    resp = api.get(
        "/api/v2/search", params={"q": word, "type": "statuses", "min_id": first, "limit": 40}
    )
    assert resp.status_code == 200, resp.text
    ids = [s["id"] for s in resp.json()["statuses"]]
    if first in ids:
        gap(
            "/api/v2/search ignores min_id (Mastodon pages statuses after it) and matches a "
            "term inside words (a SQL LIKE); Mastodon's full-text search needs Elasticsearch "
            "and finds only statuses of indexable accounts"
        )
    assert len(ids) >= 1
