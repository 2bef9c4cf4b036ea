"""The per-recipient split (publishers.split_recipients) and the values that carry it."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from publishers import (
    CallToAction,
    ChannelContext,
    Post,
    PublishResult,
    VariantOffer,
    render_post,
    split_counts,
    split_recipients,
    variant_posts,
)

keys_st = st.text(alphabet="abcdefghij_", min_size=1, max_size=6)
weights_st = st.dictionaries(keys_st, st.integers(1, 9), min_size=1, max_size=4)


@given(
    st.lists(st.integers(0, 10**9), unique=True, max_size=300),
    weights_st,
    st.text(max_size=10),
)
@settings(max_examples=150, deadline=None)
def test_every_recipient_lands_exactly_once_and_deterministically(ids, weights, seed):
    variants = [VariantOffer(k, w) for k, w in weights.items()]
    first = split_recipients(ids, variants, seed)
    assert list(first) == list(weights)  # every variant present, in the order given
    placed = [x for part in first.values() for x in part]
    assert sorted(placed) == sorted(ids) and len(placed) == len(set(placed))
    assert first == split_recipients(iter(list(ids)), list(weights.items()), seed)
    # A recipient's variant does not depend on who else is on the list.
    alone = split_recipients(ids[:7], variants, seed)
    assert all(x in first[k] for k, part in alone.items() for x in part)
    assert sum(split_counts(first).values()) == len(ids)


@given(weights_st, st.text(max_size=10))
@settings(max_examples=40, deadline=None)
def test_split_is_proportional_within_tolerance(weights, seed):
    n = 8000
    parts = split_recipients(range(n), list(weights.items()), seed)
    total = sum(weights.values())
    for key, weight in weights.items():
        p = weight / total
        sd = math.sqrt(p * (1 - p) / n)
        # 5 standard deviations: a false alarm once in ~3.5 million checks.
        assert abs(len(parts[key]) / n - p) <= 5 * sd + 1e-12


def test_split_refuses_nonsense_arms():
    with pytest.raises(ValueError):
        split_recipients(range(3), [], "s")
    with pytest.raises(ValueError):
        split_recipients(range(3), [("a", 0)], "s")
    with pytest.raises(ValueError):
        split_recipients(range(3), [("a", 1), ("a", 2)], "s")


# --- values --------------------------------------------------------------------------------


def test_variant_offer_validates_and_converts():
    offer = VariantOffer("bold", 2.0, {"text": "Go", "url": "https://x.example"})
    assert offer.weight == 2 and offer.cta == CallToAction("Go", "https://x.example")
    assert VariantOffer.from_dict(offer.to_dict()) == offer
    for bad in ({"key": ""}, {"key": "a", "weight": 0}, {"key": "a", "weight": True}):
        with pytest.raises((TypeError, ValueError)):
            VariantOffer(**bad)
    with pytest.raises(dataclasses.FrozenInstanceError):
        offer.weight = 3  # type: ignore[misc]


def test_post_with_variants_round_trips_and_is_consistent():
    post = Post(
        body="Spring sale",
        experiment_key="42",
        scheduled_for=datetime(2027, 3, 1, 9, tzinfo=UTC),
        variants=[
            {"key": "control", "weight": 1, "cta": {"text": "Shop", "url": "https://a.example"}},
            VariantOffer("bold", 3, CallToAction("Grab it", "https://a.example", "Buy")),
        ],
    )
    assert isinstance(post.variants, tuple) and post.variant("bold").weight == 3
    data = post.to_dict()
    assert data["variants"][0] == {
        "key": "control",
        "weight": 1,
        "cta": {"text": "Shop", "url": "https://a.example", "button_label": ""},
    }
    assert Post.from_dict(data) == post
    assert Post(body="x").to_dict()["variants"] == []
    with pytest.raises(ValueError):  # one variant or the arms to split, not both
        post.replace(variant_key="control")
    with pytest.raises(ValueError):
        Post(body="x", variants=[VariantOffer("a"), VariantOffer("a")])
    with pytest.raises(TypeError):
        Post(body="x", variants=["a"])


def test_publish_result_recipients_per_variant():
    result = PublishResult("e1", recipients_per_variant={"control": 600, "bold": 400.0})
    assert dict(result.recipients_per_variant) == {"control": 600, "bold": 400}
    with pytest.raises(TypeError):
        result.recipients_per_variant["control"] = 1  # type: ignore[index]
    assert PublishResult.from_dict(result.to_dict()) == result
    assert PublishResult("e2").recipients_per_variant == {}
    assert PublishResult.from_dict({"external_id": "e3"}).recipients_per_variant == {}
    for bad in ({"a": -1}, {"a": 1.5}, {"a": True}, {"": 1}, {"a": "3"}):
        with pytest.raises((TypeError, ValueError)):
            PublishResult("e", recipients_per_variant=bad)


# --- rendering -----------------------------------------------------------------------------


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def test_render_tags_each_offer_with_its_own_key_and_keeps_the_body_shared():
    channel = ChannelContext(id="c", network="sandbox_email")
    post = Post(
        body="Hello {{ brand.name }} https://site.example/news",
        links=("https://site.example/news",),
        brand_name="Acme",
        experiment_key="42",
        variants=(
            VariantOffer("control", 1, CallToAction("Shop", "https://shop.example/a")),
            VariantOffer("bold", 1, CallToAction("Go {{ variant }}!", "https://shop.example/a")),
            VariantOffer("plain", 1, None),
        ),
    )
    rendered = render_post(post, channel)
    assert rendered.ok, rendered.problems
    out = rendered.post
    assert out.cta is None and out.variant_key == ""
    assert out.body.startswith("Hello Acme") and "Shop" not in out.body
    assert "utm_content" not in _query(out.links[0])
    control, bold = out.variant("control").cta, out.variant("bold").cta
    assert _query(control.url)["utm_content"] == "control"
    assert _query(bold.url) == {
        "utm_source": "sandbox_email",
        "utm_medium": "social",
        "utm_campaign": "42",
        "utm_content": "bold",
    }
    assert bold.text == "Go bold!"
    assert out.variant("plain").cta is None
    messages = variant_posts(out)
    assert set(messages) == {"control", "bold", "plain"}
    assert messages["bold"].variant_key == "bold" and messages["bold"].variants == ()
    assert messages["bold"].body.endswith(f"Go bold! {bold.url}")
    assert bold.url in messages["bold"].links and control.url not in messages["bold"].links
    assert messages["plain"].body == out.body
    # Rendering twice changes nothing.
    assert render_post(out, channel).post == out


def test_render_reports_placeholder_problems_in_an_offer():
    post = Post(body="x", variants=(VariantOffer("a", 1, CallToAction("{{ nope }}")),))
    problems = render_post(post, ChannelContext(id="c", network="n")).problems
    assert [(p.code, p.field) for p in problems] == [
        ("unknown_placeholder", "variants[0].cta.text")
    ]


def test_single_cta_path_is_unchanged():
    post = Post(body="x", cta=CallToAction("Shop", "https://a.example"), variant_key="b")
    out = render_post(post, ChannelContext(id="c", network="n")).post
    assert out.variants == ()
    assert _query(out.cta.url)["utm_content"] == "b"
    assert out.body.endswith(out.cta.url)
