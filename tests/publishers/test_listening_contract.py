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


# --- read_back: a search read newest first never skips, however busy a term is -------------


def _network(posts: dict[str, list[int]], size: int):
    """A search answering newest first, ``size`` per page, bounded by floor and ceiling."""

    def pages(term, floor, ceiling):
        hits = sorted(
            (
                n
                for n in posts[term]
                if (not floor or n > int(floor)) and (not ceiling or n < int(ceiling))
            ),
            reverse=True,
        )
        for start in range(0, len(hits), size):
            yield [{"id": str(n)} for n in hits[start : start + size]]

    return pages


@given(
    st.lists(st.tuples(st.sampled_from("abc"), st.booleans()), min_size=1, max_size=60),
    st.integers(1, 4),
    st.integers(1, 3),
)
def test_read_back_finds_every_later_result_once_the_backlog_is_read(plan, size, max_pages):
    from publishers.listening import read_back

    terms = ("a", "b", "c")
    posts: dict[str, list[int]] = {t: [0] for t in terms}  # one before the watch started
    pages = _network(posts, size)
    args = (lambda item: item["id"], int)
    _, cursor, _ = read_back(terms, "", pages, *args, max_pages=max_pages)
    expected: set[str] = set()
    seen: set[str] = set()
    for n, (term, read_now) in enumerate(plan, start=1):
        posts[term].append(n)
        expected.add(str(n))
        if read_now:  # a round between arrivals
            found, cursor, _ = read_back(terms, cursor, pages, *args, max_pages=max_pages)
            seen |= {item["id"] for _, item in found}
    for _ in range(200):  # rounds go on until the backlog and the later arrivals are read
        before = cursor
        found, cursor, more = read_back(terms, cursor, pages, *args, max_pages=max_pages)
        seen |= {item["id"] for _, item in found}
        if not more and not found and cursor == before:
            break
    assert expected <= seen


def test_a_search_cursor_that_is_no_json_is_stale():
    from publishers.listening import SearchPosition, StaleCursor

    with pytest.raises(StaleCursor):
        SearchPosition.parse("{oops")
    assert SearchPosition.parse("42") == SearchPosition("42")
    pending = SearchPosition("1", "9", {"a": "5"})
    assert SearchPosition.parse(pending.encode()) == pending
