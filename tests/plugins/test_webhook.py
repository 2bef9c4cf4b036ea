"""The webhook network against a real HTTP server on 127.0.0.1 (no mocked HTTP client)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from plugins.webhook.addresses import AddressRefused, is_public_address, resolve_target
from plugins.webhook.network import WebhookNetwork, parse_retry_after
from plugins.webhook.signing import signature_header, verify_signature
from publishers import (
    ChannelContext,
    CredentialsExpired,
    PermanentError,
    Post,
    Status,
    TransientError,
    build_plugin_manager,
    deliver,
)
from publishers.errors import MAX_DETAIL
from publishers.testing import FakeServer, NetworkConformance, Reply, deliver_with

SECRET = "whsec_test_0123456789"


def webhook_channel(url, *, secret=SECRET, **settings):
    return ChannelContext(
        id="hook-1",
        network="webhook",
        handle="crm",
        settings={"url": url, "read_timeout": 2, **settings},
        secrets={"signing_secret": secret} if secret else {},
    )


class Receiver:
    """A well-behaved receiver: checks signatures and deduplicates on Idempotency-Key."""

    def __init__(self) -> None:
        self.posts: dict[str, dict] = {}

    def __call__(self, request):
        header = request.headers.get("kairos-signature")
        if not verify_signature(SECRET, header, request.body):
            return Reply(401, json={"error": "bad signature"})
        key = request.headers["idempotency-key"]
        if key not in self.posts:
            self.posts[key] = {"id": f"r{len(self.posts) + 1}", "payload": request.json()}
        stored = self.posts[key]
        return Reply(201, json={"id": stored["id"], "url": f"https://crm.example/{stored['id']}"})


@pytest.fixture
def receiver():
    return Receiver()


@pytest.fixture
def server(receiver):
    with FakeServer(receiver) as running:
        yield running


class TestWebhookConformance(NetworkConformance):
    @pytest.fixture
    def network(self):
        return WebhookNetwork()

    @pytest.fixture
    def channel(self, server):
        return webhook_channel(f"{server.url}/hooks/kairos")

    @pytest.fixture
    def failing_channels(self):
        with (
            FakeServer(default=Reply(500, body=b"oops")) as five,
            FakeServer(default=Reply(404)) as four,
            FakeServer(default=Reply(401)) as unauthorized,
        ):
            yield [
                (webhook_channel(five.url), TransientError),
                (webhook_channel(four.url), PermanentError),
                (webhook_channel(unauthorized.url), CredentialsExpired),
                (webhook_channel("http://127.0.0.1:1/", secret="s3cret-value"), TransientError),
            ]

    def count_posts(self, network, channel):
        return None

    def test_one_key_one_post_at_the_receiver(self, network, channel, sample_post, receiver):
        network.publish(sample_post, channel, "key-a")
        network.publish(sample_post, channel, "key-a")
        assert list(receiver.posts) == ["key-a"]


def test_request_is_signed_json_with_idempotency_key(server):
    network = WebhookNetwork()
    post = Post(body="Lights out", links=("https://a.example",), variant_key="B")
    result = network.publish(post, webhook_channel(f"{server.url}/in?src=k"), "idem-42")
    request = server.requests[0]
    assert (request.method, request.path, request.query) == ("POST", "/in", {"src": ["k"]})
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == "idem-42"
    assert request.headers["host"].startswith("127.0.0.1:")
    assert verify_signature(SECRET, request.headers["kairos-signature"], request.body)
    assert not verify_signature("other", request.headers["kairos-signature"], request.body)
    document = request.json()
    assert document["post"]["body"] == "Lights out" and document["idempotency_key"] == "idem-42"
    assert SECRET not in request.body.decode()
    assert (result.external_id, result.url) == ("r1", "https://crm.example/r1")


def test_result_without_id_uses_the_idempotency_key():
    with FakeServer(default=Reply(202)) as server:
        result = WebhookNetwork().publish(Post(body="x"), webhook_channel(server.url), "idem-7")
    assert result.external_id == "idem-7"


@pytest.mark.parametrize(
    ("reply", "error", "code", "may_have_posted"),
    [
        (Reply(500), TransientError, "http_500", True),
        (Reply(503), TransientError, "http_503", False),
        (Reply(429, headers={"Retry-After": "17"}), TransientError, "rate_limited", False),
        (Reply(400, body=b"bad field"), PermanentError, "http_400", None),
        (Reply(410), PermanentError, "http_410", None),
        (
            Reply(302, headers={"Location": "http://elsewhere"}),
            PermanentError,
            "redirect_refused",
            None,
        ),
        (Reply(401), CredentialsExpired, "credentials_expired", None),
        (Reply(403), CredentialsExpired, "credentials_expired", None),
    ],
)
def test_status_mapping(reply, error, code, may_have_posted):
    with FakeServer(default=reply) as server, pytest.raises(error) as caught:
        WebhookNetwork().publish(Post(body="x"), webhook_channel(server.url), "k")
    assert caught.value.code == code
    if may_have_posted is not None:
        assert caught.value.may_have_posted is may_have_posted
    if reply.status == 429:
        assert caught.value.retry_after == 17
    if reply.status == 400:
        assert "bad field" in caught.value.detail


def test_retry_after_http_date():
    when = datetime.now(UTC) + timedelta(seconds=120)
    with (
        FakeServer(
            default=Reply(503, headers={"Retry-After": format_datetime(when, usegmt=True)})
        ) as server,
        pytest.raises(TransientError) as caught,
    ):
        WebhookNetwork().publish(Post(body="x"), webhook_channel(server.url), "k")
    assert 100 < caught.value.retry_after <= 121


def test_parse_retry_after():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_read_timeout_after_sending_may_have_posted():
    with FakeServer(default=Reply(200, delay=1.5)) as server:
        # The server would answer 200 after 1.5 s: a time-out proves read_timeout was applied.
        with pytest.raises(TransientError) as caught:
            WebhookNetwork().publish(
                Post(body="x"), webhook_channel(server.url, read_timeout=0.2), "k"
            )
        assert len(server.requests) == 1  # the request did reach the receiver
    assert caught.value.code == "timeout" and caught.value.may_have_posted


def test_connection_refused_did_not_post():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransientError) as caught:
        WebhookNetwork().publish(Post(body="x"), webhook_channel(f"http://127.0.0.1:{port}/"), "k")
    assert caught.value.code == "connect_failed" and not caught.value.may_have_posted


def test_dropped_connection_may_have_posted():
    with FakeServer(default=Reply(drop=True)) as server, pytest.raises(TransientError) as caught:
        WebhookNetwork().publish(Post(body="x"), webhook_channel(server.url), "k")
    assert caught.value.may_have_posted


@pytest.fixture(autouse=True)
def operator_allows_loopback(monkeypatch):
    """These tests post to a receiver on 127.0.0.1, which only the operator may allow."""
    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "webhook")


def test_private_addresses_refused_unless_the_operator_allows_them(server, monkeypatch):
    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "matrix")  # another network only
    # A workspace cannot switch it on through the channel's settings (server-side request forgery).
    channel = webhook_channel(server.url, allow_private_addresses=True)
    with pytest.raises(AddressRefused, match="KAIROS_ALLOW_PRIVATE_NETWORKS"):
        WebhookNetwork().publish(Post(body="x"), channel, "k")
    assert server.requests == []  # nothing was sent
    problems = WebhookNetwork().test_connection(channel)
    assert [p.code for p in problems] == ["address_refused"]


def test_an_internal_page_comes_back_as_a_short_excerpt_only(server):
    """The answer of whatever a URL reached is never kept whole (security review #2)."""
    secret_page = (
        "<html><body><h1>Jenkins</h1><pre>AWS_SECRET_ACCESS_KEY="
        + "k" * 40
        + "\n"
        + "internal-config-line\n" * 2000
        + "</pre></body></html>"
    )
    server.reply(Reply(400, body=secret_page.encode()))
    outcome = deliver_with(WebhookNetwork(), Post(body="x"), webhook_channel(server.url), "k")
    assert outcome.status is Status.FAILED
    assert len(outcome.detail) <= MAX_DETAIL and len(outcome.reason) <= MAX_DETAIL
    assert "<" not in outcome.detail
    assert outcome.detail.count("internal-config-line") < 20


def _resolver(*addresses):
    def resolve(host, port, type=0):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    return resolve


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.8",
        "192.168.1.1",
        "172.16.0.1",
        "127.0.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
        "240.0.0.1",
        "100.64.0.1",
    ],
)
def test_every_non_public_address_is_refused(address):
    with pytest.raises(AddressRefused):
        resolve_target("https://hooks.example/x", resolver=_resolver(address))


def test_one_private_address_among_public_ones_is_refused():
    with pytest.raises(AddressRefused):
        resolve_target("https://hooks.example/x", resolver=_resolver("93.184.216.34", "10.1.1.1"))
    target = resolve_target("https://hooks.example:8443/x", resolver=_resolver("93.184.216.34"))
    assert (target.host, target.port, target.pinned_host) == (
        "hooks.example",
        8443,
        "93.184.216.34",
    )


def test_invalid_urls_and_dns_failures():
    with pytest.raises(PermanentError, match="http"):
        resolve_target("ftp://hooks.example/")
    with pytest.raises(PermanentError):
        resolve_target("http://[::1")

    def fails(host, port, type=0):
        raise socket.gaierror("no such host")

    with pytest.raises(TransientError) as caught:
        resolve_target("https://nowhere.invalid/", resolver=fails)
    assert caught.value.code == "dns_failure"


def test_is_public_address():
    import ipaddress

    assert is_public_address(ipaddress.ip_address("93.184.216.34"))
    assert not is_public_address(ipaddress.ip_address("::ffff:127.0.0.1"))


def test_validate_reports_missing_or_bad_url():
    network = WebhookNetwork()
    assert [p.code for p in network.validate(Post(body="x"), webhook_channel(""))] == [
        "missing_setting"
    ]
    assert [p.code for p in network.validate(Post(body="x"), webhook_channel("ftp://x"))] == [
        "invalid_url"
    ]
    problems = network.test_connection(webhook_channel("", secret=""))
    assert {p.field for p in problems} == {"settings.url", "secrets.signing_secret"}


def test_missing_secret_expires_credentials():
    with pytest.raises(CredentialsExpired):
        WebhookNetwork().publish(
            Post(body="x"), webhook_channel("http://127.0.0.1:9/", secret=""), "k"
        )


def test_signature_verification_rules():
    body = b'{"a":1}'
    header = signature_header(SECRET, body, timestamp=1_000_000)
    assert verify_signature(SECRET, header, body, now=1_000_100)
    assert not verify_signature(SECRET, header, body, now=1_000_400)  # too old
    assert not verify_signature(SECRET, header, body + b" ", now=1_000_100)  # tampered
    rotated = signature_header("old-secret", body, 1_000_000) + "," + header.split(",")[1]
    assert verify_signature(SECRET, rotated, body, now=1_000_000)
    for bad in (None, "", "t=abc,v1=00", "v1=00", "t=1000000", "garbage", "t=1000000,v1="):
        assert not verify_signature(SECRET, bad, body, now=1_000_000)


def test_pipeline_outcomes_over_http():
    plugins = build_plugin_manager(disabled=["sandbox"])
    post = Post(body="Go")
    with FakeServer(default=Reply(429, headers={"Retry-After": "9"})) as server:
        outcome = deliver(plugins, post, webhook_channel(server.url), "k")
    assert outcome.status is Status.RETRY and outcome.retry_after == 9
    with FakeServer(default=Reply(200, delay=1.0)) as server:
        outcome = deliver(plugins, post, webhook_channel(server.url, read_timeout=0.2), "k")
    # the receiver deduplicates on the key, so an ambiguous time-out is safe to retry
    assert outcome.status is Status.RETRY and not outcome.reconcile_next
    with FakeServer(default=Reply(403)) as server:
        outcome = deliver(plugins, post, webhook_channel(server.url), "k")
    assert outcome.status is Status.CREDENTIALS_EXPIRED
    assert SECRET not in outcome.detail


# --- kept connections ------------------------------------------------------------------------


def _post(network, channel, n: int) -> None:
    for i in range(n):
        network.publish(Post(body=f"hello {i}"), channel, f"keep-{i}-{id(channel)}")


def test_posts_reuse_one_connection(server):
    network = WebhookNetwork()
    channel = webhook_channel(f"{server.url}/hooks/kairos")
    _post(network, channel, 5)
    assert len(server.requests) == 5
    assert len({r.peer for r in server.requests}) == 1  # one TCP connection for five posts
    assert network._http.opened == 1
    network.close()  # closed properly: the next post opens a new one
    _post(network, channel, 1)
    assert len({r.peer for r in server.requests}) == 2
    network.close()


def test_a_kept_connection_only_serves_the_host_it_was_opened_for(server):
    """Two hosts at one address get a client each: a connection (and, for https, the certificate
    it checked) is never handed to a request naming another host."""
    from ipaddress import ip_address

    from publishers.addresses import Target, pinned_request
    from publishers.http import ClientPool

    port = int(server.url.rsplit(":", 1)[1])
    pool = ClientPool(max_clients=2)
    one, two, three = (
        Target("http", host, port, (ip_address("127.0.0.1"),))
        for host in ("a.example", "b.example", "c.example")
    )
    for target in (one, two, one, two):
        client = pool.client_for(target)
        pinned_request(
            client, "GET", f"http://{target.host}:{port}/", target, headers={}, timeout=2
        )
    assert pool.opened == 2 and pool.client_for(one) is not pool.client_for(two)
    by_host = {}
    for request in server.requests:
        by_host.setdefault(request.headers["host"], set()).add(request.peer)
    assert {host: len(peers) for host, peers in by_host.items()} == {
        f"a.example:{port}": 1,
        f"b.example:{port}": 1,
    }
    assert not set.intersection(*by_host.values())
    first = pool.client_for(one)
    pool.client_for(three)  # over max_clients: the least recently used client is closed
    assert len(pool) == 2 and pool.client_for(one) is first and pool.opened == 3
    pool.close()
    assert len(pool) == 0 and first.is_closed
