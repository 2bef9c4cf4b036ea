r"""Rendering a post: placeholders, the variant's call to action, UTM tags.

**Placeholder syntax.** ``{{ name }}`` - a name made of letters, digits and underscores, not
starting with a digit, optionally dotted (``{{ brand.name }}``); spaces inside the braces are
optional. Substitution is a single pass: a value is inserted as plain text and is never scanned
again, so a value containing ``{{ x }}`` stays literal. There are no expressions, filters or
attribute lookups - nothing is ever executed.

* ``\{{`` renders a literal ``{{`` (the backslash is dropped); no other escapes exist.
* Any other ``{{`` that does not open a well-formed placeholder is a ``malformed_placeholder``
  problem, so a typo such as ``{{ score }`` is caught before the post goes out.
* A name nobody can supply is an ``unknown_placeholder`` problem; nothing is sent.

**Values, in order of precedence:** the ``values`` given by the caller (a reactive template's
fire), then the built-ins (:data:`BUILTIN_PLACEHOLDERS`), then the ``resolve_placeholder`` hook.

**Call to action.** When the post has a ``cta``, its line is appended to the body after a blank
line: the CTA text, then a space and the CTA URL when the URL is not already in the text. The
URL is also added to ``links``. Applying it twice changes nothing.

**UTM.** Every http(s) link in ``links`` and the CTA URL get ``utm_source`` (the network key),
``utm_medium=social``, ``utm_campaign`` (``metadata["utm_campaign"]``, else the experiment key,
else the brand slug) and ``utm_content`` (the variant key). Parameters already on the link win,
other query parameters and the fragment are kept, and occurrences of the link in the body are
rewritten to the tagged form.

**Per-recipient variants.** A post with ``variants`` (for a network that splits one post per
recipient) has no single CTA: each offer's CTA text gets its placeholders filled, and each
offer's CTA URL gets the UTM tags with ``utm_content`` set to *that offer's* key. The body and
``links`` are shared by every arm and are tagged without ``utm_content``. No CTA line is
appended to the shared body; :func:`variant_posts` gives the post as each arm's recipients see
it (their CTA applied).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from publishers.values import (
    CallToAction,
    ChannelContext,
    Post,
    Problem,
    ThreadPart,
    VariantOffer,
)

__all__ = [
    "BUILTIN_PLACEHOLDERS",
    "Rendered",
    "add_utm",
    "apply_cta",
    "apply_utm",
    "check_template",
    "cta_line",
    "fill",
    "placeholders_in",
    "render_post",
    "variant_posts",
]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*"
# Alternatives, tried left to right at each position: an escape, a placeholder, a stray opener.
_TOKEN = re.compile(r"\\\{\{|\{\{[ \t]*(" + _NAME + r")[ \t]*\}\}|\{\{")

Resolver = Callable[[str], "str | None"]

#: Placeholders Kairos fills itself from the post and channel.
BUILTIN_PLACEHOLDERS: Mapping[str, Callable[[Post, ChannelContext], str]] = {
    "brand.name": lambda post, channel: post.brand_name,
    "brand.slug": lambda post, channel: post.brand_slug,
    "channel.handle": lambda post, channel: channel.handle,
    "network": lambda post, channel: channel.network,
    "variant": lambda post, channel: post.variant_key,
    "language": lambda post, channel: post.language,
    "cta.text": lambda post, channel: post.cta.text if post.cta else "",
    "cta.url": lambda post, channel: post.cta.url if post.cta else "",
}


def placeholders_in(text: str) -> set[str]:
    """The placeholder names used in ``text`` (escaped and malformed ones excluded)."""
    return {m.group(1) for m in _TOKEN.finditer(text) if m.group(1)}


def check_template(text: str, *, field: str = "body") -> list[Problem]:
    """Syntax problems in ``text``: every ``{{`` that opens no well-formed placeholder."""
    problems = []
    for match in _TOKEN.finditer(text):
        if match.group(0) == "{{":
            snippet = text[match.start() : match.start() + 20]
            problems.append(
                Problem(
                    "malformed_placeholder",
                    f"{snippet!r} is not a placeholder; write {{{{ name }}}}, or \\{{{{ for "
                    "literal braces.",
                    field,
                )
            )
    return problems


def fill(
    text: str,
    values: Mapping[str, object] | None = None,
    resolver: Resolver | None = None,
    *,
    field: str = "body",
) -> tuple[str, list[Problem]]:
    """Substitute placeholders in ``text``.

    :param values: known values by name; non-string values are converted with ``str``.
    :param resolver: called for names missing from ``values``; returns ``None`` when unknown.
        Called at most once per distinct name.
    :returns: the rendered text and its problems. Unknown placeholders are left in place.
    """
    values = values or {}
    problems = check_template(text, field=field)
    cache: dict[str, str | None] = {}
    unknown: list[str] = []

    def lookup(name: str) -> str | None:
        if name not in cache:
            if name in values:
                cache[name] = str(values[name])
            else:
                cache[name] = resolver(name) if resolver is not None else None
        return cache[name]

    def substitute(match: re.Match[str]) -> str:
        token, name = match.group(0), match.group(1)
        if token == "\\{{":
            return "{{"
        if name is None:
            return token
        value = lookup(name)
        if value is None:
            if name not in unknown:
                unknown.append(name)
            return token
        return value

    rendered = _TOKEN.sub(substitute, text)
    for name in unknown:
        problems.append(
            Problem(
                "unknown_placeholder", f"Nothing supplies the placeholder {{{{ {name} }}}}.", field
            )
        )
    return rendered, problems


def add_utm(
    url: str, *, source: str, campaign: str = "", content: str = "", medium: str = "social"
) -> str:
    """Return ``url`` with UTM parameters added; non-http(s) URLs come back unchanged.

    Parameters already present on the URL are kept as they are (an author's explicit tag wins);
    other query parameters keep their order and the fragment is preserved. Empty values are
    not added.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    wanted = [
        ("utm_source", source),
        ("utm_medium", medium),
        ("utm_campaign", campaign),
        ("utm_content", content),
    ]
    added = [(k, v) for k, v in wanted if v and k not in present]
    if not added:
        return url
    new_query = f"{parts.query}&{urlencode(added)}" if parts.query else urlencode(added)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, new_query, parts.fragment))


def _campaign(post: Post) -> str:
    explicit = post.metadata.get("utm_campaign")
    return str(explicit or post.experiment_key or post.brand_slug)


def apply_utm(post: Post, network: str, *, campaign: str | None = None) -> Post:
    """Tag the post's links and CTA URL (see the module docstring for the rule)."""
    tag = {
        "source": network,
        "campaign": _campaign(post) if campaign is None else campaign,
        "content": post.variant_key,
    }
    mapping = {link: add_utm(link, **tag) for link in post.links}
    cta = post.cta
    if cta is not None and cta.url:
        mapping.setdefault(cta.url, add_utm(cta.url, **tag))
        cta = CallToAction(cta.text, mapping[cta.url], cta.button_label)
    body = post.body
    # Longest first, so that a link which is a prefix of another does not clobber it.
    for original in sorted(mapping, key=len, reverse=True):
        if mapping[original] != original:
            body = _replace_link(body, original, mapping[original])
    variants = tuple(
        VariantOffer(
            offer.key,
            offer.weight,
            CallToAction(
                offer.cta.text,
                add_utm(offer.cta.url, **{**tag, "content": offer.key}),
                offer.cta.button_label,
            ),
        )
        if offer.cta is not None and offer.cta.url
        else offer
        for offer in post.variants
    )
    return post.replace(
        body=body,
        links=tuple(mapping[link] for link in post.links),
        cta=cta,
        variants=variants,
    )


def _replace_link(body: str, original: str, tagged: str) -> str:
    # Replace whole occurrences only: not when the link continues with URL characters, which
    # would mean it is a prefix of a longer URL.
    pattern = re.compile(re.escape(original) + r"(?![\w/?#&=%~+-]|\.[\w/])")
    return pattern.sub(lambda _m: tagged, body)


def cta_line(cta: CallToAction) -> str:
    """The line a call to action adds to the body."""
    text = cta.text.strip()
    if cta.url and cta.url not in text:
        return f"{text} {cta.url}".strip()
    return text


def apply_cta(post: Post) -> Post:
    """Append the variant's call to action to the body and its URL to the links (idempotent)."""
    if post.cta is None:
        return post
    line = cta_line(post.cta)
    body = post.body
    if line and not body.rstrip().endswith(line):
        body = f"{body.rstrip()}\n\n{line}" if body.strip() else line
    links = post.links
    if post.cta.url and post.cta.url not in links:
        links = (*links, post.cta.url)
    return post.replace(body=body, links=links)


def text_with_links(post: Post) -> str:
    """The text a text-only network posts: the body, the call to action's line, then every link
    the text does not already show, each on its own line."""
    post = apply_cta(post)
    text = post.body.rstrip()
    missing = [link for link in post.links if link not in text]
    if missing:
        text = "\n\n".join(part for part in (text, "\n".join(missing)) if part)
    return text


def variant_posts(post: Post) -> dict[str, Post]:
    """The post as each arm's recipients see it, by variant key: ``variant_key`` set, that
    arm's CTA applied (line appended, URL in ``links``), ``variants`` emptied.

    For a network that splits one post per recipient; call it on the post it receives (already
    rendered). A post without ``variants`` gives ``{}``.
    """
    return {
        offer.key: apply_cta(post.replace(variants=(), variant_key=offer.key, cta=offer.cta))
        for offer in post.variants
    }


@dataclass(frozen=True, slots=True)
class Rendered:
    """The rendered post and the problems found while rendering it."""

    post: Post
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def render_post(
    post: Post,
    channel: ChannelContext,
    *,
    values: Mapping[str, object] | None = None,
    resolver: Resolver | None = None,
    utm: bool = True,
) -> Rendered:
    """Render ``post`` for ``channel``: placeholders in the body and CTA text (each variant
    offer's too), then UTM tags, then the CTA line (not for a post with ``variants``: see
    :func:`variant_posts`). ``resolver`` is consulted for names neither in ``values`` nor built in."""

    def lookup(name: str) -> str | None:
        builtin = BUILTIN_PLACEHOLDERS.get(name)
        if builtin is not None:
            return builtin(post, channel)
        return resolver(name) if resolver is not None else None

    body, problems = fill(post.body, values, lookup, field="body")
    cta = post.cta
    if cta is not None:
        text, cta_problems = fill(cta.text, values, lookup, field="cta.text")
        problems.extend(cta_problems)
        cta = CallToAction(text, cta.url, cta.button_label)
    variants = []
    for index, offer in enumerate(post.variants):
        if offer.cta is not None:

            def offer_lookup(name: str, key: str = offer.key) -> str | None:
                return key if name == "variant" else lookup(name)

            text, offer_problems = fill(
                offer.cta.text, values, offer_lookup, field=f"variants[{index}].cta.text"
            )
            problems.extend(offer_problems)
            offer = VariantOffer(
                offer.key, offer.weight, CallToAction(text, offer.cta.url, offer.cta.button_label)
            )
        variants.append(offer)
    thread = []
    for index, part in enumerate(post.thread, start=1):
        part_body, part_problems = fill(part.body, values, lookup, field=f"thread.{index}.body")
        problems.extend(part_problems)
        thread.append(ThreadPart(part_body, part.media))
    rendered = post.replace(body=body, cta=cta, variants=tuple(variants), thread=tuple(thread))
    if utm:
        rendered = apply_utm(rendered, channel.network)
    rendered = apply_cta(rendered)
    return Rendered(rendered, tuple(problems))
