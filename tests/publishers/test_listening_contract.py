"""The listening contract: message values, pages, capability claims."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publishers import (
    Capabilities,
    ChannelContext,
    InboundMessage,
    MessagePage,
    Network,
    PublishResult,
    messages_from,
)
from publishers.network import check_network

AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_message_normalises_and_strips_nul():
    message = InboundMessage("  42 ", "hi\x00 there", "@ana", AT, language=" fr ")
    assert message.network_id == "42"
    assert message.text == "hi there"
    assert message.language == "fr"
    assert message.published_at.tzinfo is UTC


@pytest.mark.parametrize(
    "bad",
    [
        {"text": "no id", "published_at": AT.isoformat()},
        {"network_id": "", "text": "x", "published_at": AT.isoformat()},
        {"network_id": "1", "text": 3, "published_at": AT.isoformat()},
        {"network_id": "1", "text": "x", "published_at": "yesterday"},
        {"network_id": "1", "text": "x", "published_at": "2026-11-30T08:00:00"},  # naive
        "not a mapping",
    ],
)
def test_malformed_items_are_skipped_and_counted(bad):
    good = {"network_id": "ok", "text": "fine", "published_at": AT.isoformat()}
    messages, skipped = messages_from([good, bad, good])
    assert [m.network_id for m in messages] == ["ok"]  # the repeat is dropped too
    assert skipped == 1


@given(st.dictionaries(st.text(max_size=12), st.one_of(st.none(), st.text(), st.integers())))
def test_messages_from_never_raises(item):
    messages, skipped = messages_from([item])
    assert len(messages) + skipped == 1


def test_page_refuses_foreign_values():
    with pytest.raises(TypeError):
        MessagePage(({"network_id": "1"},))  # type: ignore[arg-type]


def test_unknown_stream_refused():
    with pytest.raises(ValueError, match="listening"):
        Capabilities(listening=("dms",))


class _Quiet(Network):
    key = "quiet"
    display_name = "Quiet"
    capabilities = Capabilities()

    def validate(self, post, channel):
        return []

    def publish(self, post, channel, idempotency_key):
        return PublishResult("1")

    def fetch_metrics(self, ref, channel):
        raise NotImplementedError


def test_claims_must_match_methods():
    class Claims(_Quiet):
        capabilities = Capabilities(listening=("mentions",))

    class Implements(_Quiet):
        def search_posts(self, channel, terms, cursor):
            return MessagePage()

    assert "fetch_mentions" in check_network(Claims())
    assert "search" in check_network(Implements())
    assert check_network(_Quiet()) is None


def test_unclaimed_streams_say_not_supported():
    channel = ChannelContext(id="1", network="quiet")
    from publishers import PermanentError

    for call in (
        lambda: _Quiet().fetch_replies(channel, "", []),
        lambda: _Quiet().fetch_mentions(channel, ""),
        lambda: _Quiet().search_posts(channel, ["x"], ""),
    ):
        with pytest.raises(PermanentError) as info:
            call()
        assert info.value.code == "not_supported"
