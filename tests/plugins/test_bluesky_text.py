"""Bluesky's text rules without a server: graphemes, shortened links, facets on UTF-8 byte
offsets, record keys, token expiry and link-card parsing."""

from __future__ import annotations

import base64
import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugins.bluesky.cards import external_embed, page_summary
from plugins.bluesky.facets import build_facets, find_mentions, find_tags
from plugins.bluesky.network import BlueskyNetwork
from plugins.bluesky.records import TID, parse_at_uri, rkey_for
from plugins.bluesky.session import token_expiry
from plugins.bluesky.text import compose, find_urls, grapheme_length, short_url
from publishers import ChannelContext, Post

CHANNEL = ChannelContext(
    id="b1",
    network="bluesky",
    settings={"service": "https://pds.example.com", "handle": "brand.example.com"},
    secrets={"app_password": "abcd-efgh-ijkl-mnop"},
)
LINK = "https://example.com/spring-sale-2026?utm_source=kairos&utm_medium=social"
URLS = (
    LINK,
    "https://example.com/",
    "http://café.example/ünïcode/path",
    "https://example.org/a_(b)",
)


def test_graphemes_are_what_a_reader_sees() -> None:
    assert grapheme_length("🇫🇷") == 1  # two regional indicators
    assert grapheme_length("👨‍👩‍👧‍👦") == 1  # a family joined by ZWJs: seven code points
    assert grapheme_length("e\u0301te\u0301") == 3  # "été" written with combining accents
    assert grapheme_length("👍🏽 ok") == 4  # a skin tone modifies the thumb


def test_links_are_shown_short_and_keep_the_full_url() -> None:
    assert short_url(LINK) == "example.com/spring-sale-..."
    assert short_url("https://example.com/") == "example.com"
    assert short_url("https://example.com/a") == "example.com/a"
    composed = compose(Post(body="Sale!", links=(LINK,)))
    assert composed.text == "Sale!\n\nexample.com/spring-sale-..."
    (span,) = composed.links
    assert composed.text[span.start : span.end] == "example.com/spring-sale-..."
    assert span.uri == LINK
    assert compose(Post(body="Sale!", links=(LINK,)), shorten_links=False).text.endswith(LINK)


def test_sentence_punctuation_is_not_part_of_a_url() -> None:
    found = [
        url
        for _, _, url in find_urls(
            "See https://x.org/a. And (https://x.org/b) or https://x.org/c_(d)!"
        )
    ]
    assert found == ["https://x.org/a", "https://x.org/b", "https://x.org/c_(d)"]


def test_facets_count_utf8_bytes_not_characters() -> None:
    composed = compose(Post(body="Été 🇫🇷 #Rentrée avec @amie.example.com", links=(LINK,)))
    facets = build_facets(composed, lambda handle: "did:plc:amie" if handle else None)
    data = composed.text.encode("utf-8")
    pieces = {f["features"][0]["$type"].split("#")[1]: f for f in facets}
    tag = pieces["tag"]
    # "Été " is 6 bytes (É and é are two each), the flag 8, the space 1: the tag starts at 15,
    # the 8th character.
    assert tag["index"] == {"byteStart": 15, "byteEnd": 15 + len("#Rentrée".encode())}
    assert tag["features"][0]["tag"] == "Rentrée"
    mention = pieces["mention"]
    piece = data[mention["index"]["byteStart"] : mention["index"]["byteEnd"]]
    assert piece.decode() == "@amie.example.com"
    assert mention["features"][0]["did"] == "did:plc:amie"
    link = pieces["link"]
    piece = data[link["index"]["byteStart"] : link["index"]["byteEnd"]]
    assert piece.decode() == "example.com/spring-sale-..."
    assert link["features"][0]["uri"] == LINK


def test_unknown_handles_stay_plain_text() -> None:
    composed = compose(Post(body="Hello @nobody.example.com"))
    assert build_facets(composed, lambda handle: None) == []


def test_what_counts_as_a_mention_and_a_hashtag() -> None:
    assert [h for _, _, h in find_mentions("hi @Alice.Example.com, mail bob@x.org (@c.d.e)")] == [
        "alice.example.com",
        "c.d.e",
    ]
    assert [t for _, _, t in find_tags("#one, #2024 #two! x#no #three_3 #️⃣ \uff03full")] == [
        "one",
        "two",
        "three_3",
        "full",
    ]
    assert find_tags("#" + "a" * 65) == []  # over 64 graphemes: not a tag


@given(
    before=st.text(max_size=40),
    after=st.text(max_size=40),
    url=st.sampled_from(URLS),
    shorten=st.booleans(),
)
def test_every_facet_covers_exactly_what_it_names(
    before: str, after: str, url: str, shorten: bool
) -> None:
    composed = compose(
        Post(body=f"{before} #kairos @friend.example.com {after}", links=(url,)),
        shorten_links=shorten,
    )
    facets = build_facets(composed, lambda handle: f"did:plc:{len(handle)}")
    data = composed.text.encode("utf-8")
    ends = []
    for facet in facets:
        start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        assert 0 <= start < end <= len(data)
        ends.append((start, end))
        piece = data[start:end].decode("utf-8")  # never splits a character
        feature = facet["features"][0]
        kind = feature["$type"].split("#")[1]
        if kind == "link":
            assert piece == (short_url(feature["uri"]) if shorten else feature["uri"])
        elif kind == "tag":
            assert piece[0] in "#\uff03" and piece[1:] == feature["tag"]
        else:
            assert piece.startswith("@") and feature["did"] == f"did:plc:{len(piece) - 1}"
    assert ends == sorted(ends)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(ends))
    features = [f["features"][0] for f in facets]
    assert {"$type": "app.bsky.richtext.facet#tag", "tag": "kairos"} in features
    assert any(f.get("uri") == url for f in features)


def test_validate_counts_graphemes_and_bytes() -> None:
    network = BlueskyNetwork()
    assert network.validate(Post(body="🇫🇷" * 300), CHANNEL) == []  # 600 code points, 300 flags
    assert [p.code for p in network.validate(Post(body="🇫🇷" * 301), CHANNEL)] == ["text_too_long"]
    # A family is one grapheme of 25 bytes: 121 of them are over the byte limit only.
    assert [p.code for p in network.validate(Post(body="👨‍👩‍👧‍👦" * 121), CHANNEL)] == [
        "text_too_large"
    ]
    # A long tracking link counts as shown (27 characters), not as written (71).
    body = "x" * (300 - 2 - 27)
    assert network.validate(Post(body=body, links=(LINK,)), CHANNEL) == []


def test_validate_names_what_to_fix() -> None:
    channel = ChannelContext(id="v", network="bluesky", settings={"service": "ftp://x"})
    problems = BlueskyNetwork().validate(Post(body="hi"), channel)
    assert {p.field for p in problems} == {
        "settings.service",
        "settings.handle",
        "secrets.app_password",
    }


def test_images_are_checked_against_bluesky_s_limits() -> None:
    image = {"url": "https://example.com/a.png", "mime_type": "image/png", "size": 1000}
    network = BlueskyNetwork()
    assert network.validate(Post(body="x", media=[image] * 4), CHANNEL) == []
    codes = {p.code for p in network.validate(Post(body="x", media=[image] * 5), CHANNEL)}
    assert codes == {"too_many_media"}
    big = {**image, "size": 1_000_001}
    assert {p.code for p in network.validate(Post(body="x", media=[big]), CHANNEL)} == {
        "media_too_large"
    }
    video = {**image, "mime_type": "video/mp4"}
    assert {p.code for p in network.validate(Post(body="x", media=[video]), CHANNEL)} == {
        "media_type_not_supported"
    }


@given(st.text(min_size=1, max_size=200))
def test_record_keys_are_valid_tids_derived_from_the_key_alone(key: str) -> None:
    rkey = rkey_for(key)
    assert TID.match(rkey)
    assert rkey_for(key) == rkey
    assert rkey_for(key + "x") != rkey


def test_at_uris_parse() -> None:
    assert parse_at_uri("at://did:plc:abc/app.bsky.feed.post/3k") == (
        "did:plc:abc",
        "app.bsky.feed.post",
        "3k",
    )
    with pytest.raises(ValueError):
        parse_at_uri("https://bsky.app/profile/x/post/3k")


def test_token_expiry_is_read_from_the_jwt() -> None:
    claims = base64.urlsafe_b64encode(json.dumps({"exp": 1_900_000_000}).encode()).rstrip(b"=")
    assert token_expiry(f"e30.{claims.decode()}.sig") == 1_900_000_000
    assert token_expiry("not-a-jwt") is None


def test_link_cards_read_open_graph_tags_and_fall_back_to_the_title() -> None:
    page = """<html><head><title>Fallback</title>
        <meta property="og:title" content="Spring sale &amp; more">
        <meta name="description" content="  Everything   half price.  ">
        </head><body>...</body></html>"""
    assert page_summary(page) == ("Spring sale & more", "Everything half price.")
    assert page_summary("<title>Only a title</title>") == ("Only a title", "")
    assert external_embed(LINK, "") == {
        "$type": "app.bsky.embed.external",
        "external": {"uri": LINK, "title": "", "description": ""},
    }
