"""The Bluesky network against a real PDS (``@atproto/pds``) on 127.0.0.1
(tests/plugins/bluesky_server.py).

Nothing is mocked: every record, blob, like and error below went through the PDS's XRPC API, and
the assertions read the repository back as any other client would. The one exception is marked:
the AppView's counts come from a small contract server, because an AppView indexes the whole
network and cannot run here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from plugins.bluesky.network import BlueskyNetwork
from plugins.bluesky.records import parse_at_uri, rkey_for
from plugins.bluesky.session import Session
from publishers import (
    AddressRefused,
    ChannelContext,
    CredentialsExpired,
    PermanentError,
    Post,
    PublicationRef,
    TransientError,
)
from publishers.testing import CountingProxy, NetworkConformance, Reply, tiny_png
from publishers.values import MediaRef, ReplyTarget
from tests.plugins.bluesky_server import BlueskyPds, bluesky_pds_fixture, pds_modules_or_skip

pytestmark = pytest.mark.e2e
bluesky_pds = bluesky_pds_fixture


@pytest.fixture(autouse=True)
def operator_allows_loopback(monkeypatch):
    """The PDS (and the pages of link cards) are on 127.0.0.1, which only the operator may
    allow."""
    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "bluesky")


class Account:
    """A Bluesky account on the test PDS, with an app password for Kairos."""

    def __init__(self, pds: BlueskyPds, prefix: str = "k") -> None:
        self.pds = pds
        data = pds.create_account(f"{prefix}{uuid.uuid4().hex[:10]}.test")
        self.did, self.handle = data["did"], data["handle"]
        self.token = data["accessJwt"]
        self.account = data
        self.app_password = pds.app_password(data)

    def channel(self, password: str | None = None, **settings) -> ChannelContext:
        return ChannelContext(
            id=f"bsky-{self.handle}",
            network="bluesky",
            handle=self.handle,
            settings={"service": self.pds.url, "handle": self.handle, **settings},
            secrets={"app_password": password or self.app_password},
        )

    def posts(self) -> list[dict]:
        return self.pds.records(self.did)

    def record(self, uri: str) -> dict:
        repo, collection, rkey = parse_at_uri(uri)
        return self.pds.xrpc(
            "GET",
            "com.atproto.repo.getRecord",
            params={"repo": repo, "collection": collection, "rkey": rkey},
        )

    def write(self, collection: str, record: dict) -> dict:
        return self.pds.xrpc(
            "POST",
            "com.atproto.repo.createRecord",
            token=self.token,
            json={
                "repo": self.did,
                "collection": collection,
                "record": {"$type": collection, "createdAt": "2026-01-01T00:00:00.000Z", **record},
            },
        )


@pytest.fixture
def account(bluesky_pds) -> Account:
    return Account(bluesky_pds)


def ref(result, key: str = "k", **extra) -> PublicationRef:
    return PublicationRef(
        "p1", key, "bluesky", external_id=result.external_id, url=result.url, **extra
    )


class TestBlueskyConformance(NetworkConformance):
    @pytest.fixture
    def network(self):
        return BlueskyNetwork()

    @pytest.fixture
    def channel(self, account):
        return account.channel(link_cards=False)

    @pytest.fixture
    def failing_channels(self, account, bluesky_pds):
        return [
            (account.channel(password="wrong-pass-word"), CredentialsExpired),
            (
                ChannelContext(
                    id="nobody",
                    network="bluesky",
                    settings={"service": bluesky_pds.url, "handle": "nobody.test"},
                    secrets={"app_password": "aaaa-bbbb-cccc-dddd"},
                ),
                CredentialsExpired,
            ),
        ]

    def count_posts(self, network, channel):
        return len(channel_account(channel).posts())


_accounts: dict[str, Account] = {}


def channel_account(channel: ChannelContext) -> Account:
    return _accounts[channel.handle]


@pytest.fixture(autouse=True)
def _remember_accounts(request):
    if "account" in request.fixturenames:
        account = request.getfixturevalue("account")
        _accounts[account.handle] = account


def test_a_post_arrives_with_facets_on_byte_ranges_and_a_link_card(
    account, bluesky_pds, fake_server
) -> None:
    friend = Account(bluesky_pds, "f")
    fake_server.reply(
        Reply(
            200,
            body=b"<html><head><meta property='og:title' content='Rentr\xc3\xa9e sale'>"
            b"<meta property='og:description' content='Half price &amp; more'></head></html>",
            headers={"Content-Type": "text/html; charset=utf-8"},
        )
    )
    page = f"{fake_server.url}/sale/2026/back-to-school?utm_source=kairos"
    body = f"Été 🇫🇷 ☕ #Rentrée with @{friend.handle} and @unknown-person.test!"
    result = BlueskyNetwork().publish(Post(body=body, links=(page,)), account.channel(), "key-1")

    stored = account.record(result.external_id)
    assert result.extra == {"uri": stored["uri"], "cid": stored["cid"]}
    assert result.url.endswith(f"/profile/{account.did}/post/{rkey_for('key-1')}")
    record = stored["value"]
    text = record["text"]
    assert text.startswith(body + "\n\n")
    data = text.encode("utf-8")
    by_kind = {}
    for facet in record["facets"]:
        feature = facet["features"][0]
        shown = data[facet["index"]["byteStart"] : facet["index"]["byteEnd"]].decode()
        by_kind[feature["$type"].split("#")[1]] = (shown, feature)
    assert by_kind["tag"] == (
        "#Rentrée",
        {"$type": "app.bsky.richtext.facet#tag", "tag": "Rentrée"},
    )
    assert by_kind["mention"][0] == f"@{friend.handle}"
    assert by_kind["mention"][1]["did"] == friend.did
    shown, link = by_kind["link"]
    assert link["uri"] == page and text.endswith(shown) and shown.endswith("...")
    assert len(record["facets"]) == 3  # the unknown handle stays text
    assert record["embed"] == {
        "$type": "app.bsky.embed.external",
        "external": {"uri": page, "title": "Rentrée sale", "description": "Half price & more"},
    }


def test_an_unreadable_page_gives_a_card_with_the_url_only(account, fake_server) -> None:
    fake_server.reply(Reply(500))
    page = f"{fake_server.url}/gone"
    result = BlueskyNetwork().publish(Post(body="Look", links=(page,)), account.channel(), "k2")
    assert account.record(result.external_id)["value"]["embed"]["external"] == {
        "uri": page,
        "title": "",
        "description": "",
    }


def test_a_retry_with_the_same_key_never_makes_a_second_record(account) -> None:
    channel = account.channel()
    first = BlueskyNetwork().publish(Post(body="Goal!"), channel, "key-goal")
    # Another worker process, a new session: the record key still says "already posted".
    again = BlueskyNetwork().publish(Post(body="Goal! (retry)"), channel, "key-goal")
    assert again.external_id == first.external_id
    assert again.extra["cid"] == first.extra["cid"]
    assert [r["value"]["text"] for r in account.posts()] == ["Goal!"]


def test_find_existing_and_delete_use_the_record_key(account) -> None:
    network = BlueskyNetwork()
    channel = account.channel()
    assert network.find_existing("key-x", channel) is None
    result = network.publish(Post(body="Oops"), channel, "key-x")
    found = network.find_existing("key-x", channel)
    assert found is not None and found.external_id == result.external_id
    assert found.extra == result.extra
    network.delete(ref(result, "key-x"), channel)
    network.delete(ref(result, "key-x"), channel)  # a second recall is harmless
    assert account.posts() == []
    assert network.find_existing("key-x", channel) is None


def test_likes_reposts_quotes_and_replies_are_counted_on_the_pds(account, bluesky_pds) -> None:
    network = BlueskyNetwork()
    channel = account.channel()
    result = network.publish(Post(body="Which jersey?"), channel, "key-jersey")
    subject = dict(result.extra)
    fans = [Account(bluesky_pds, "fan"), Account(bluesky_pds, "fan")]
    for fan in fans:
        fan.write("app.bsky.feed.like", {"subject": subject})
    fans[0].write("app.bsky.feed.repost", {"subject": subject})
    fans[1].write(
        "app.bsky.feed.post",
        {"text": "So this", "embed": {"$type": "app.bsky.embed.record", "record": subject}},
    )
    fans[0].write(
        "app.bsky.feed.post",
        {"text": "The blue one", "reply": {"root": subject, "parent": subject}},
    )
    other = network.publish(Post(body="Another post"), channel, "key-other")
    fans[0].write("app.bsky.feed.like", {"subject": dict(other.extra)})  # not ours to count
    snapshot = network.fetch_metrics(ref(result), channel)
    assert (snapshot.reactions, snapshot.shares, snapshot.replies) == (2, 2, 1)
    assert snapshot.clicks is None and snapshot.impressions is None


def test_an_appview_s_counts_are_used_when_one_is_set(account, fake_server) -> None:
    """CONTRACT TEST: the AppView here is a scripted server answering as Bluesky's does."""
    uri = f"at://{account.did}/app.bsky.feed.post/3kabc"
    fake_server.reply(
        Reply(
            200,
            json={
                "posts": [
                    {
                        "uri": uri,
                        "likeCount": 12,
                        "repostCount": 3,
                        "quoteCount": 1,
                        "replyCount": 4,
                    }
                ]
            },
        )
    )
    channel = account.channel(appview=fake_server.url)
    snapshot = BlueskyNetwork().fetch_metrics(
        PublicationRef("p", "k", "bluesky", external_id=uri), channel
    )
    assert (snapshot.reactions, snapshot.shares, snapshot.replies) == (12, 4, 4)
    (request,) = fake_server.requests
    assert request.path == "/xrpc/app.bsky.feed.getPosts"
    assert request.query["uris"] == [uri]


def test_images_go_up_as_blobs_with_their_alt_text(account, bluesky_pds) -> None:
    network = BlueskyNetwork()
    channel = account.channel()
    picture = tiny_png(3, 2)
    media = MediaRef(
        url="https://kairos.example/m/1.png",
        mime_type="image/png",
        size=len(picture),
        alt_text="A red square",
    )
    blob = network.upload_media(media, picture, channel)
    post = Post(body="Our colours", media=(media.replace(network_id=blob),))
    result = network.publish(post, channel, "key-img")
    embed = account.record(result.external_id)["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    (image,) = embed["images"]
    assert image["alt"] == "A red square"
    assert image["image"] == json.loads(blob)
    assert image["image"]["size"] == len(picture) and image["image"]["mimeType"] == "image/png"
    fetched = bluesky_pds._http.get(
        f"{bluesky_pds.url}/xrpc/com.atproto.sync.getBlob",
        params={"did": account.did, "cid": image["image"]["ref"]["$link"]},
    )
    assert fetched.content == picture


def test_an_image_over_a_million_bytes_is_refused_before_upload(account) -> None:
    media = MediaRef(url="https://kairos.example/m/big.png", mime_type="image/png")
    with pytest.raises(PermanentError) as caught:
        BlueskyNetwork().upload_media(media, b"\0" * 1_000_001, account.channel())
    assert caught.value.code == "media_too_large"


def test_a_thread_replies_to_its_root_and_to_the_part_before(account) -> None:
    network = BlueskyNetwork()
    channel = account.channel()
    first = network.publish(Post(body="1/3 Our season"), channel, "key-t1")
    second = network.publish(
        Post(body="2/3 Kits", reply_to=ReplyTarget(root=first, parent=first)), channel, "key-t2"
    )
    # A parent known only by its URI (no cid kept): the network reads the cid back.
    bare_second = second.__class__(external_id=second.external_id)
    third = network.publish(
        Post(body="3/3 Tickets", reply_to=ReplyTarget(root=first, parent=bare_second)),
        channel,
        "key-t3",
    )
    strong = {r.external_id: dict(r.extra) for r in (first, second)}
    assert account.record(second.external_id)["value"]["reply"] == {
        "root": strong[first.external_id],
        "parent": strong[first.external_id],
    }
    assert account.record(third.external_id)["value"]["reply"] == {
        "root": strong[first.external_id],
        "parent": strong[second.external_id],
    }
    network.delete(ref(first, thread=(second, third)), channel)
    assert account.posts() == []


def test_the_text_limit_is_the_pds_s_own(account, bluesky_pds) -> None:
    network = BlueskyNetwork()
    channel = account.channel()
    flags = "🇫🇷" * 300  # 600 code points, 2,400 bytes, 300 graphemes
    network.publish(Post(body=flags), channel, "key-flags")
    with pytest.raises(PermanentError) as caught:
        network.publish(Post(body=flags + "🇫🇷"), channel, "key-flags-2")
    assert caught.value.code == "text_too_long"
    refused = bluesky_pds._http.post(
        f"{bluesky_pds.url}/xrpc/com.atproto.repo.createRecord",
        headers={"Authorization": f"Bearer {account.token}"},
        json={
            "repo": account.did,
            "collection": "app.bsky.feed.post",
            "record": {"text": flags + "🇫🇷", "createdAt": "2026-01-01T00:00:00.000Z"},
        },
    )
    assert refused.status_code == 400 and "grapheme" in refused.json()["message"]


def _session_of(network: BlueskyNetwork, channel: ChannelContext) -> Session:
    session = network._sessions.get(network._session_key(channel))
    assert session is not None
    return session


def test_the_session_is_refreshed_before_expiry_and_the_new_refresh_token_kept(account) -> None:
    network = BlueskyNetwork()
    channel = account.channel()
    network.publish(Post(body="one"), channel, "key-s1")
    first = _session_of(network, channel)
    network.publish(Post(body="two"), channel, "key-s2")
    assert _session_of(network, channel) == first  # still fresh: no new login, no refresh
    network.refresh_margin = 10**9  # every access token now counts as about to expire
    network.publish(Post(body="three"), channel, "key-s3")
    renewed = _session_of(network, channel)
    # Refresh tokens rotate: the session now holds the one the refresh returned. (Access tokens
    # made within the same second are identical, so only the refresh token is compared.)
    assert renewed.refresh_jwt != first.refresh_jwt
    assert renewed.did == first.did
    assert len(account.posts()) == 3


def _forged_access_token(pds: BlueskyPds, did: str, expires: float) -> str:
    """An access token as the PDS makes them (HS256 with its secret), expiring at ``expires``."""

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    head = part({"typ": "at+jwt", "alg": "HS256"})
    claims = part(
        {
            "scope": "com.atproto.appPass",
            "aud": pds.service_did,
            "sub": did,
            "iat": int(expires) - 7200,
            "exp": int(expires),
        }
    )
    mac = hmac.new(pds.jwt_secret.encode(), f"{head}.{claims}".encode(), hashlib.sha256)
    signature = base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()
    return f"{head}.{claims}.{signature}"


def test_an_expired_token_the_clock_missed_is_renewed_and_the_post_retried(
    account, bluesky_pds
) -> None:
    # This machine's clock runs an hour behind: it believes a token that expired a minute ago
    # is good for 59 more minutes. The PDS answers ExpiredToken; the network renews and retries.
    network = BlueskyNetwork(clock=lambda: time.time() - 3600)
    channel = account.channel()
    network.publish(Post(body="before"), channel, "key-c1")
    key = network._session_key(channel)
    real = network._sessions.get(key)
    expired = _forged_access_token(bluesky_pds, account.did, time.time() - 60)
    network._sessions.put(key, Session(real.did, real.handle, expired, real.refresh_jwt))
    result = network.publish(Post(body="after"), channel, "key-c2")
    assert account.record(result.external_id)["value"]["text"] == "after"
    assert _session_of(network, channel).access_jwt != expired


def test_a_wrong_or_revoked_app_password_expires_the_channel(account, bluesky_pds) -> None:
    with pytest.raises(CredentialsExpired, match="app password"):
        BlueskyNetwork().publish(Post(body="x"), account.channel(password="nope-nope"), "k-w")
    network = BlueskyNetwork()
    channel = account.channel()
    network.publish(Post(body="x"), channel, "k-r1")
    name = bluesky_pds.xrpc("GET", "com.atproto.server.listAppPasswords", token=account.token)[
        "passwords"
    ][0]["name"]
    bluesky_pds.xrpc(
        "POST", "com.atproto.server.revokeAppPassword", token=account.token, json={"name": name}
    )
    network.refresh_margin = 10**9  # the next call renews the session: the refresh is refused
    with pytest.raises(CredentialsExpired):
        network.publish(Post(body="y"), channel, "k-r2")


def test_the_connection_test_logs_in_and_reads_the_repository(account, bluesky_pds) -> None:
    network = BlueskyNetwork()
    assert network.test_connection(account.channel()) == []
    problems = network.test_connection(account.channel(password="nope-nope"))
    assert [(p.code, p.field) for p in problems] == [
        ("credentials_refused", "secrets.app_password")
    ]


def test_the_server_address_is_checked_like_a_webhook_s(account, monkeypatch) -> None:
    monkeypatch.delenv("KAIROS_ALLOW_PRIVATE_NETWORKS")
    with pytest.raises(AddressRefused):
        BlueskyNetwork().publish(Post(body="x"), account.channel(), "key-private")


def test_rate_limits_are_transient_with_the_server_s_wait() -> None:
    """A second PDS with its own rate limits on: 30 logins per identifier per five minutes
    (spent here in parallel: each login costs the PDS a third of a second of hashing)."""
    with BlueskyPds(pds_modules_or_skip(), rate_limits=True) as strict:
        identifier = f"ghost{uuid.uuid4().hex[:8]}.test"

        def log_in(_: int) -> int:
            return strict._http.post(
                f"{strict.url}/xrpc/com.atproto.server.createSession",
                json={"identifier": identifier, "password": "whatever-it-is"},
            ).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert set(pool.map(log_in, range(30))) == {401}
        channel = ChannelContext(
            id="limited",
            network="bluesky",
            settings={"service": strict.url, "handle": identifier},
            secrets={"app_password": "whatever-it-is"},
        )
        with pytest.raises(TransientError) as caught:
            BlueskyNetwork().publish(Post(body="x"), channel, "key-limited")
    assert caught.value.code == "rate_limited"
    assert 0 < caught.value.retry_after <= 300


def test_posts_reuse_one_connection(account, bluesky_pds) -> None:
    """Logging in and two posts: one TCP connection to the PDS, kept alive."""
    network = BlueskyNetwork()
    with CountingProxy(bluesky_pds.url) as proxy:
        channel = account.channel(service=proxy.url, link_cards=False)
        for n in range(2):
            network.publish(Post(body=f"Kept {n} {uuid.uuid4().hex[:6]}"), channel, f"keep{n}")
        assert proxy.connections == 1
    network.close()
    assert len(account.posts()) == 2
