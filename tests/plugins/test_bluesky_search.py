"""Bluesky watches: ``app.bsky.feed.searchPosts`` through the PDS, against the contract server
written from the lexicon (tests/plugins/bluesky_appview.py; CONTRACT TESTS, not Bluesky)."""

from __future__ import annotations

import pytest

from plugins.bluesky import listening
from plugins.bluesky.network import BlueskyNetwork
from publishers import ChannelContext, PublisherError, StaleCursor
from tests.plugins.bluesky_appview import OWN_DID, SearchAppView


@pytest.fixture(autouse=True)
def operator_allows_loopback(monkeypatch):
    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "bluesky")


@pytest.fixture
def appview():
    with SearchAppView() as server:
        yield server


def channel_for(server: SearchAppView, **settings) -> ChannelContext:
    return ChannelContext(
        id="bsky-search",
        network="bluesky",
        settings={
            "service": server.url,
            "handle": "brand.bsky.social",
            "appview": "https://public.api.bsky.app",
            **settings,
        },
        secrets={"app_password": "aaaa-bbbb-cccc-dddd"},
    )


def read_all(network, channel, terms, cursor, rounds=20):
    seen, pages = [], 0
    for _ in range(rounds):
        page = network.search_posts(channel, terms, cursor)
        pages += 1
        seen += [m.network_id for m in page.messages]
        cursor = page.cursor
        if not page.more:
            break
    return seen, cursor, pages


def test_search_keeps_whole_terms_never_our_own_and_asks_the_appview(appview) -> None:
    network = BlueskyNetwork()
    channel = channel_for(appview)
    assert "search" in network.capabilities_for(channel).listening
    hit = appview.say("My ACME phone broke", langs=["en"])
    appview.say("acmeology is something else")  # only inside a word
    tagged = appview.say("Launch day #launch2026")
    appview.say("We are acme", did=OWN_DID, handle="brand.bsky.social")  # our own

    page = network.search_posts(channel, ("acme", "#launch2026"), "")
    assert sorted(m.network_id for m in page.messages) == sorted([hit, tagged])
    by_id = {m.network_id: m for m in page.messages}
    assert by_id[hit].author_handle == "@fan.bsky.social" and by_id[hit].language == "en"
    assert by_id[hit].url.startswith("https://bsky.app/profile/did:plc:fan/post/")
    first = appview.searches()[0]
    assert first.headers["atproto-proxy"] == "did:web:api.bsky.app#bsky_appview"
    assert first.query["sort"] == ["latest"] and first.query["limit"] == ["100"]
    assert "since" not in first.query
    assert page.cursor and not page.more

    later = appview.say("acme again")
    again = network.search_posts(channel, ("acme", "#launch2026"), page.cursor)
    # The overlap reads a few again (the host keeps each once); nothing new is missed.
    assert later in {m.network_id for m in again.messages}
    assert appview.searches()[-1].query["since"]
    assert again.cursor >= page.cursor


def test_a_busy_term_is_read_over_several_calls_without_skipping(appview, monkeypatch) -> None:
    monkeypatch.setattr(listening, "PAGE", 3)
    monkeypatch.setattr(listening, "MAX_PAGES", 2)
    network = BlueskyNetwork()
    channel = channel_for(appview)
    appview.say("acme before")
    start = network.search_posts(channel, ("acme", "quiet"), "").cursor
    # Move past the overlap, then a burst: 14 matches, more than two pages of three per call.
    appview.clock += listening_overlap()
    burst = [appview.say(f"acme {n}") for n in range(14)]
    quiet = appview.say("quiet here")
    seen, cursor, calls = read_all(network, channel, ("acme", "quiet"), start)
    assert set(burst) | {quiet} <= set(seen)
    assert calls > 1  # it needed the backlog
    appview.clock += listening_overlap()
    after = appview.say("acme after")
    seen, _, _ = read_all(network, channel, ("acme", "quiet"), cursor)
    # What is within the overlap comes again (the host keeps it once); the new one is there.
    assert after in seen and set(seen) <= set(burst) | {quiet, after}


def listening_overlap():
    from datetime import timedelta

    return timedelta(microseconds=listening.OVERLAP_US + 1_000_000)


def test_without_an_appview_there_is_no_search(appview) -> None:
    network = BlueskyNetwork()
    channel = channel_for(appview, appview="", service="http://127.0.0.1:9")
    assert "search" not in network.capabilities_for(channel).listening
    with pytest.raises(PublisherError):
        network.search_posts(channel, ("acme",), "")


def test_a_cursor_that_is_no_time_is_stale_and_a_malformed_result_is_counted(appview) -> None:
    network = BlueskyNetwork()
    channel = channel_for(appview)
    with pytest.raises(StaleCursor):
        network.search_posts(channel, ("acme",), "page-7")
    with pytest.raises(StaleCursor):
        network.search_posts(channel, ("acme",), "{not json")
    appview.say("acme fine")
    # A result with no author: skipped and counted, the others kept.
    appview.posts.append(
        {"uri": "at://x/y/z", "record": {"text": "acme x"}, "indexedAt": "2026-11-30T10:00:00Z"}
    )
    page = network.search_posts(channel, ("acme",), "")
    assert [m.text for m in page.messages] == ["acme fine"] and page.skipped == 1


def test_the_contract_server_keeps_the_lexicon_s_bounds(appview) -> None:
    import httpx

    base = f"{appview.url}/xrpc/app.bsky.feed.searchPosts"
    assert httpx.get(base, params={"q": "x", "limit": 101}).status_code == 400
    assert httpx.get(base, params={"limit": 5}).status_code == 400
    appview.say("one x")
    appview.say("two x")
    body = httpx.get(base, params={"q": "x", "limit": 1}).json()
    assert [p["record"]["text"] for p in body["posts"]] == ["two x"] and body["cursor"]
    rest = httpx.get(base, params={"q": "x", "limit": 1, "cursor": body["cursor"]}).json()
    assert [p["record"]["text"] for p in rest["posts"]] == ["one x"] and "cursor" not in rest
