from __future__ import annotations

import httpx
import pytest

from publishers.testing import CountingProxy, FakeServer, Reply


def test_fake_server_records_and_replies_from_script():
    with FakeServer(default=Reply(204)) as server:
        server.reply(Reply(201, json={"id": "a"}, headers={"X-Test": "1"}))
        first = httpx.post(f"{server.url}/posts?x=1", json={"hello": "world"}, headers={"A": "b"})
        second = httpx.get(f"{server.url}/other")
    assert (first.status_code, first.json(), first.headers["x-test"]) == (201, {"id": "a"}, "1")
    assert second.status_code == 204
    request = server.requests[0]
    assert (request.method, request.path, request.query) == ("POST", "/posts", {"x": ["1"]})
    assert request.json() == {"hello": "world"} and request.headers["a"] == "b"


def test_fake_server_handler_and_delay():
    with FakeServer(lambda request: Reply(200, body=request.path.encode())) as server:
        assert httpx.get(f"{server.url}/echo").text == "/echo"
        server.reply(Reply(200, delay=1.0))
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(server.url, timeout=0.1)


def test_fake_server_drop_closes_connection():
    with FakeServer() as server:
        server.reply(Reply(drop=True))
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(server.url)


def test_url_requires_running_server():
    with pytest.raises(RuntimeError, match="not running"):
        _ = FakeServer().url


def test_counting_proxy_counts_connections_not_requests():
    with FakeServer(lambda request: Reply(200, body=request.path.encode())) as server:
        with CountingProxy(server.url) as proxy:
            with httpx.Client() as kept:
                assert [kept.get(f"{proxy.url}/{n}").text for n in range(3)] == ["/0", "/1", "/2"]
            assert proxy.connections == 1
            assert httpx.get(f"{proxy.url}/alone").text == "/alone"  # a client of its own
            assert proxy.connections == 2
        assert len(server.requests) == 4


def test_counting_proxy_to_nowhere_refuses_like_the_server_would():
    with CountingProxy("http://127.0.0.1:1") as proxy, pytest.raises(httpx.TransportError):
        httpx.get(proxy.url, timeout=2)
    assert proxy.connections == 0
