"""Run Kairos' conformance kit against a fake Pigeon API on 127.0.0.1."""

from __future__ import annotations

import pytest
from kairos_example_network import PigeonNetwork

from publishers import (
    ChannelContext,
    CredentialsExpired,
    PermanentError,
    Post,
    TransientError,
)
from publishers.testing import FakeServer, NetworkConformance, Reply

TOKEN = "pigeon-token-123"


class FakePigeon:
    """Just enough of the Pigeon API, kept in memory."""

    def __init__(self) -> None:
        self.posts: dict[str, dict] = {}

    def __call__(self, request):
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return Reply(401)
        live = {k: p for k, p in self.posts.items() if not p["deleted"]}
        if request.method == "POST" and request.path == "/posts":
            key = request.headers["idempotency-key"]
            if key not in live:
                self.posts[key] = {"id": f"p{len(self.posts) + 1}", "key": key, "deleted": False}
            return Reply(201, json={"id": self.posts[key]["id"]})
        if request.method == "GET" and request.path == "/posts":
            key = request.query.get("idempotency_key", [""])[0]
            return Reply(200, json=[{"id": live[key]["id"]}] if key in live else [])
        post = next(
            (p for p in self.posts.values() if request.path.startswith(f"/posts/{p['id']}")), None
        )
        if post is None:
            return Reply(404)
        if request.method == "DELETE":
            post["deleted"] = True
            return Reply(204)
        return Reply(200, json={"views": 10, "clicks": 1})


@pytest.fixture(autouse=True)
def operator_allows_loopback(monkeypatch):
    """The fake Pigeon listens on 127.0.0.1, a private address only the operator may allow."""
    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "pigeon")


@pytest.fixture
def pigeon():
    api = FakePigeon()
    with FakeServer(api) as server:
        api.url = server.url
        yield api


class TestPigeonConformance(NetworkConformance):
    @pytest.fixture
    def network(self):
        return PigeonNetwork()

    @pytest.fixture
    def channel(self, pigeon):
        return ChannelContext(
            id="c1",
            network="pigeon",
            settings={"base_url": pigeon.url},
            secrets={"api_token": TOKEN},
        )

    @pytest.fixture
    def failing_channels(self, pigeon):
        with FakeServer(default=Reply(503)) as down, FakeServer(default=Reply(422)) as refuses:
            yield [
                (
                    ChannelContext(
                        id="c",
                        network="pigeon",
                        settings={"base_url": pigeon.url},
                        secrets={"api_token": "revoked-token"},
                    ),
                    CredentialsExpired,
                ),
                (
                    ChannelContext(
                        id="c",
                        network="pigeon",
                        settings={"base_url": down.url},
                        secrets={"api_token": TOKEN},
                    ),
                    TransientError,
                ),
                (
                    ChannelContext(
                        id="c",
                        network="pigeon",
                        settings={"base_url": refuses.url},
                        secrets={"api_token": TOKEN},
                    ),
                    PermanentError,
                ),
            ]

    def count_posts(self, network, channel):
        return len(self._api.posts)

    @pytest.fixture(autouse=True)
    def _remember_api(self, pigeon):
        self._api = pigeon


def test_posts_reuse_one_connection():
    """Two posts to one Pigeon server go over one kept-alive connection."""
    with FakeServer(FakePigeon()) as server:
        network = PigeonNetwork()
        channel = ChannelContext(
            id="c1",
            network="pigeon",
            settings={"base_url": server.url},
            secrets={"api_token": TOKEN},
        )
        network.publish(Post(body="one"), channel, "key-1")
        network.publish(Post(body="two"), channel, "key-2")
        network.close()
    assert len({request.peer for request in server.requests}) == 1


def test_a_private_address_is_refused_unless_the_operator_allows_it(pigeon, monkeypatch):
    monkeypatch.delenv("KAIROS_ALLOW_PRIVATE_NETWORKS")
    channel = ChannelContext(
        id="c1", network="pigeon", settings={"base_url": pigeon.url}, secrets={"api_token": TOKEN}
    )
    with pytest.raises(PermanentError):
        PigeonNetwork().publish(Post(body="one"), channel, "key-1")
