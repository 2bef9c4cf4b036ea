from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from publishers import (
    CallToAction,
    ChannelContext,
    Post,
    add_utm,
    apply_cta,
    apply_utm,
    check_template,
    fill,
    placeholders_in,
    render_post,
)

CHANNEL = ChannelContext(id="c", network="mastodon", handle="@acme")


def test_placeholders_in_finds_names_and_skips_escapes():
    text = "Hi {{ brand.name }}, {{score}} \\{{ not_me }} {{ 1bad }} {{ match.score }}"
    assert placeholders_in(text) == {"brand.name", "score", "match.score"}


def test_fill_substitutes_once_and_never_rescans_values():
    text, problems = fill("A {{ a }} B {{b}}", {"a": "{{ b }}", "b": 2})
    assert text == "A {{ b }} B 2"
    assert problems == []


def test_escape_renders_literal_braces():
    text, problems = fill("Use \\{{ name }} to insert", {})
    assert text == "Use {{ name }} to insert" and problems == []


def test_unknown_and_malformed_placeholders_are_problems():
    text, problems = fill("{{ who }} and {{ who }} and {{ oops } and {{ 2x }}", {})
    codes = [p.code for p in problems]
    assert codes.count("malformed_placeholder") == 2
    assert codes.count("unknown_placeholder") == 1  # reported once per name
    assert "{{ who }}" in text  # unknown ones stay in place
    assert check_template("fine {{ x }}") == []


def test_resolver_called_once_per_name():
    calls = []

    def resolver(name):
        calls.append(name)
        return name.upper()

    text, _ = fill("{{ a }} {{ a }} {{ b }}", {"b": "given"}, resolver)
    assert text == "A A given" and calls == ["a"]


def test_add_utm_keeps_query_and_fragment_and_existing_tags():
    url = "https://shop.example/p?id=3&utm_source=newsletter#reviews"
    tagged = add_utm(url, source="x", campaign="launch", content="B")
    parts = urlsplit(tagged)
    assert parts.fragment == "reviews"
    query = parse_qsl(parts.query)
    assert query[:2] == [("id", "3"), ("utm_source", "newsletter")]
    assert ("utm_medium", "social") in query and ("utm_content", "B") in query
    assert add_utm("mailto:a@b.example", source="x") == "mailto:a@b.example"
    assert add_utm(tagged, source="x", campaign="launch", content="B") == tagged


def test_apply_utm_rewrites_links_in_body_without_touching_longer_urls():
    post = Post(
        body="See https://a.example/x. Also https://a.example/xy and https://a.example/x",
        links=("https://a.example/x",),
        variant_key="B",
        experiment_key="superbowl",
    )
    tagged = apply_utm(post, "mastodon")
    link = tagged.links[0]
    assert link.startswith("https://a.example/x?utm_source=mastodon")
    assert "utm_campaign=superbowl" in link
    assert tagged.body == f"See {link}. Also https://a.example/xy and {link}"


def test_apply_cta_appends_line_and_is_idempotent():
    post = Post(body="Big game tonight", cta=CallToAction("Get 20% off", "https://s.example/o"))
    once = apply_cta(post)
    assert once.body == "Big game tonight\n\nGet 20% off https://s.example/o"
    assert once.links == ("https://s.example/o",)
    assert apply_cta(once) == once
    assert apply_cta(Post(body="x")) == Post(body="x")


def test_render_post_full_pipeline():
    post = Post(
        body="{{ brand.name }} on {{ network }}: {{ headline }}",
        cta=CallToAction("Shop {{ brand.name }}", "https://s.example/o"),
        brand_name="Acme",
        brand_slug="acme",
        variant_key="B",
        metadata={"utm_campaign": "q1"},
    )
    rendered = render_post(post, CHANNEL, values={"headline": "Lights out!"})
    assert rendered.ok
    body = rendered.post.body
    assert body.startswith("Acme on mastodon: Lights out!\n\nShop Acme https://s.example/o?")
    assert "utm_campaign=q1" in body and "utm_content=B" in body
    missing = render_post(post, CHANNEL)
    assert [p.code for p in missing.problems] == ["unknown_placeholder"]


hostile = st.lists(
    st.sampled_from(
        ["{{", "}}", "{", "}", "\\", " ", ".", "_", "a", "Z", "9", "__import__", "(", ")"]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(template=hostile, value=hostile)
def test_hostile_templates_never_raise_or_execute(template, value):
    asked = []

    def resolver(name):
        asked.append(name)
        return value

    text, problems = fill(template, {}, resolver)
    assert isinstance(text, str)
    assert all(p.code == "malformed_placeholder" for p in problems)
    # The resolver is only ever asked about syntactically valid names found in the template:
    # names are looked up, never evaluated.
    assert set(asked) == placeholders_in(template)
    if not asked:
        assert text == template.replace("\\{{", "{{")


@settings(max_examples=200, deadline=None)
@given(value=st.text(max_size=50))
def test_values_are_inserted_verbatim(value):
    text, problems = fill("<{{ a }}>", {"a": value})
    assert text == f"<{value}>" and problems == []


@settings(max_examples=100, deadline=None)
@given(
    path=st.text(alphabet="abc/", max_size=10),
    query=st.lists(
        st.tuples(st.sampled_from(["q", "id", "x"]), st.text("ab1", max_size=3)), max_size=3
    ),
    fragment=st.text(alphabet="abc", max_size=5),
)
def test_add_utm_preserves_existing_parameters(path, query, fragment):
    from urllib.parse import urlencode

    url = f"https://h.example/{path}" + (f"?{urlencode(query)}" if query else "")
    url += f"#{fragment}" if fragment else ""
    tagged = add_utm(url, source="s", campaign="c", content="v")
    parts = urlsplit(tagged)
    assert parse_qsl(parts.query, keep_blank_values=True)[: len(query)] == query
    assert parts.fragment == fragment
    assert parts.path == urlsplit(url).path
