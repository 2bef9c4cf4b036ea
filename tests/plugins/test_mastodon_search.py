"""Mastodon watches past one page: more than 40 matches between two rounds are all read, over
several calls, against the contract server (tests/plugins/mastodon_search_server.py; CONTRACT
TESTS: mastodon-mock ignores the search's ``min_id`` and ``max_id``)."""

from __future__ import annotations

import pytest

from plugins.mastodon.network import MastodonNetwork
from publishers import ChannelContext, StaleCursor
from tests.plugins.mastodon_search_server import OWN_ID, TOKEN, SearchInstance


@pytest.fixture(autouse=True)
def operator_allows_loopback(monkeypatch):
    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "mastodon")


@pytest.fixture
def instance():
    with SearchInstance() as server:
        yield server


def channel_for(server: SearchInstance, token: str = TOKEN) -> ChannelContext:
    return ChannelContext(
        id="masto-search",
        network="mastodon",
        settings={"instance": server.url},
        secrets={"access_token": token},
    )


def rounds(network, channel, terms, cursor, limit=20):
    seen, calls = [], 0
    for _ in range(limit):
        page = network.search_posts(channel, terms, cursor)
        calls += 1
        seen += [m.network_id for m in page.messages]
        cursor = page.cursor
        if not page.more:
            break
    return seen, cursor, calls


def test_more_than_40_matches_between_rounds_are_all_read_none_twice_skipped(instance) -> None:
    network = MastodonNetwork()
    network.SEARCH_PAGES = 2  # 80 statuses per term and call, so 95 need a second call
    channel = channel_for(instance)
    terms = ("acme", "#launch")
    instance.say("acme before the watch")
    start = network.search_posts(channel, terms, "").cursor
    busy = [instance.say(f"ACME is down again ({n})") for n in range(95)]
    instance.say("acmeology, not the brand")  # only inside a word
    instance.say("we are acme", account_id=OWN_ID, acct="brand")  # our own
    tagged = [instance.say(f"Launch day #launch {n}") for n in range(3)]

    seen, cursor, calls = rounds(network, channel, terms, start)
    assert sorted(seen) == sorted(busy + tagged)  # every one, once, none of the others
    assert calls == 2
    searches = instance.calls("/api/v2/search")
    assert all(r.query["limit"] == ["40"] for r in searches)
    assert all(r.query["min_id"] == [start] for r in searches[1:])
    assert any("max_id" in r.query for r in searches)
    tags = instance.calls("/api/v1/timelines/tag/launch")
    assert tags[-1].query["since_id"] == [start]

    later = instance.say("acme later")
    again, _, _ = rounds(network, channel, terms, cursor)
    assert again == [later]


def test_a_term_busier_than_a_call_does_not_let_a_calm_term_jump_ahead(instance) -> None:
    network = MastodonNetwork()
    network.PAGE, network.SEARCH_PAGES = 5, 1
    channel = channel_for(instance)
    terms = ("acme", "calm")
    instance.say("acme and calm before the watch")
    start = network.search_posts(channel, terms, "").cursor
    busy = [instance.say(f"acme {n}") for n in range(12)]
    calm = instance.say("calm day")  # newer than every busy one
    more_busy = [instance.say(f"acme late {n}") for n in range(3)]
    seen, _, calls = rounds(network, channel, terms, start)
    assert set(seen) == {*busy, calm, *more_busy} and calls >= 3


def test_a_search_cursor_that_is_no_status_id_is_stale(instance) -> None:
    network = MastodonNetwork()
    channel = channel_for(instance)
    for cursor in ("not-an-id", '{"floor": "x"}', "{broken"):
        with pytest.raises(StaleCursor):
            network.search_posts(channel, ("acme",), cursor)
