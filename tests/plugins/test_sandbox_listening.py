"""The sandbox's seeded conversation: deterministic, incremental, with a complaint surge."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from plugins.sandbox.listening import TEXTS
from plugins.sandbox.network import SandboxNetwork
from publishers import ChannelContext, Post, PublicationRef, StaleCursor

START = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def channel(tmp_path):
    return ChannelContext(
        id="c1",
        network="sandbox",
        handle="acme",
        settings={"sandbox_dir": str(tmp_path), "seed": 7, "surge_at": START.isoformat()},
    )


def _complaints(messages) -> int:
    words = {t for lang in TEXTS.values() for t in lang["complaint"]}
    return sum(1 for m in messages if any(m.text == w.format(term="acme") for w in words))


def test_same_seed_same_messages(channel):
    clock = Clock(START + timedelta(hours=2))
    first = SandboxNetwork(clock=clock).fetch_mentions(channel, "")
    second = SandboxNetwork(clock=clock).fetch_mentions(channel, "")
    assert [m.to_dict() for m in first.messages] == [m.to_dict() for m in second.messages]


def test_reading_in_steps_loses_and_doubles_nothing(channel):
    clock = Clock(START + timedelta(hours=3))
    network = SandboxNetwork(clock=clock)
    whole = {m.network_id for m in network.fetch_mentions(channel, "").messages}
    clock.at = START - timedelta(hours=21)
    cursor, seen = "", []
    while clock.at <= START + timedelta(hours=3):
        page = network.fetch_mentions(channel, cursor)
        seen += [m.network_id for m in page.messages]
        cursor = page.cursor
        if not page.more:
            clock.at += timedelta(minutes=37)
    assert whole <= set(seen)


def test_surge_brings_more_messages_and_more_complaints(channel):
    network = SandboxNetwork(clock=Clock(START + timedelta(hours=1)))
    during = network.fetch_mentions(channel, START.isoformat()).messages
    network = SandboxNetwork(clock=Clock(START - timedelta(hours=1)))
    before = network.fetch_mentions(channel, (START - timedelta(hours=2)).isoformat()).messages
    assert len(during) > 3 * max(len(before), 1)
    assert _complaints(during) / len(during) > 0.5
    languages = Counter(m.language for m in during)
    assert languages["en"] and languages["fr"]


def test_replies_answer_our_posts(channel):
    # The count of replies is seeded by the post's id, which is random: with the default mean
    # of 3 a post gets none about one time in twenty. A mean of 40 makes "none" impossible in
    # practice (e**-40), so the test says what it means.
    channel = dataclasses.replace(channel, settings={**channel.settings, "replies_per_post": 40})
    clock = Clock(START)
    network = SandboxNetwork(clock=clock)
    result = network.publish(Post(body="Hello"), channel, "key-1")
    ref = PublicationRef("p1", "key-1", "sandbox", external_id=result.external_id)
    clock.at = START + timedelta(days=1)
    page = SandboxNetwork(clock=clock).fetch_replies(channel, "", [ref])
    assert page.messages, "a mean of 40 replies gives the post some"
    assert {m.in_reply_to for m in page.messages} == {result.external_id}


@pytest.mark.parametrize("cursor", ["garbage", "2020-01-01T00:00:00+00:00"])
def test_stale_cursor(channel, cursor):
    with pytest.raises(StaleCursor):
        SandboxNetwork(clock=Clock(START)).fetch_mentions(channel, cursor)


def test_search_names_a_term(channel):
    page = SandboxNetwork(clock=Clock(START + timedelta(hours=1))).search_posts(
        channel, ["#AcmeLaunch"], ""
    )
    assert page.messages
    assert all("#AcmeLaunch" in m.text for m in page.messages)
