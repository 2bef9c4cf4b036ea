"""Tracked links: the short redirect that counts clicks networks do not report.

Why it is shaped this way: a viral post can send thousands of clicks a minute, so a click costs
one indexed lookup (the link by its unique code) and one INSERT — the counting tests are
``EXISTS`` subqueries evaluated *inside* that INSERT, not separate round trips. Bots (link-preview
fetchers of every network, crawlers, scripts) are recognised by user agent and not recorded at
all; neither are ``HEAD`` requests and browser prefetches (see tracking_views). A visitor is known
only by a salted HMAC of (IP, user agent) and a client by one of its address alone, both keyed by
a secret that changes every UTC day: repeat clicks of a visitor within :data:`DEDUPE_WINDOW` count
once, one client counts at most ``KAIROS_CLICK_CLIENT_LIMIT`` clicks per link and window however
many user agents it rotates through, and nothing personal is stored.

Clicks past a limit still redirect (a person behind a busy NAT must never land on an error) and
are recorded with ``is_counted = False``; everything that reads click counts reads counted clicks
only (calendar_app.experiments).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from calendar_app import click_function
from calendar_app.client_address import client_key
from calendar_app.models import Click, Publication, TrackedLink, Variant
from calendar_app.models.tracking import new_click_token

#: Repeat clicks of one visitor on one link within this window count once.
DEDUPE_WINDOW = timedelta(minutes=30)

#: Name of the query parameter carrying the click id to the target site.
CLICK_PARAM = "kc"

#: User-agent fragments of automated clients (case-insensitive substrings). Link-preview fetchers
#: matter most: every network, chat app and fediverse server fetches each link of a post once or
#: more, and none of those fetches is a person. Names a *person's* in-app browser also carries are
#: avoided on purpose: "Snapchat/12.60" and "[Pinterest/iOS]" are people in those apps' browsers,
#: so only the fetchers' own names are listed ("Snap URL Preview", "Pinterestbot"). Every entry has
#: a real user agent in tests/experiments/test_bots.py, and so do the people's browsers.
BOT_UA_FRAGMENTS: tuple[str, ...] = (
    # generic words of crawlers and fetchers ("bot" itself is in BOT_UA_PATTERNS)
    "crawl",
    "spider",
    "slurp",
    "preview",  # BingPreview, SkypeUriPreview, Snap URL Preview Service, Google Web Preview
    "+http",  # "(compatible; X/1.0; +https://x.example/bot)": browsers never link to themselves
    "mailto:",
    # link previews of networks and chat apps
    "facebookexternalhit",
    "facebookcatalog",
    "meta-externalagent",
    "meta-externalfetcher",
    "meta-externalads",
    "iframely",
    "embedly",
    "pinterestbot",
    "pinterest.com/bot",
    "snapurlpreview",
    "snapchatads",
    "vkshare",
    "whatsapp",  # WhatsApp, and Signal's previews, which use its name
    "skypeuripreview",
    "slack-imgproxy",
    "slackbot",
    "discordbot",
    "twitterbot",
    "telegrambot",
    "linkedinbot",
    "redditbot",
    "tumblr/",
    "flipboard",
    "kakaotalk-scrap",
    "line-poker",
    "ms-office",  # Word and Outlook fetch a link before they open the browser
    "microsoft office",
    "mastodon",
    "pleroma",
    "misskey",
    "akkoma",
    "bluesky",
    "cardyb",
    # search engines and Google's other fetchers
    "googleother",
    "google-",  # Google-InspectionTool, Google-Read-Aloud, Google-PageRenderer, Google-Safety
    "-google",  # APIs-Google, Mediapartners-Google, FeedFetcher-Google, AdsBot-Google
    "bingpreview",
    "baiduspider",
    "bytespider",
    "yandeximages",
    # headless browsers, audits and monitors
    "headlesschrome",
    "phantomjs",
    "lighthouse",
    "monitor",
    "uptime",
    "pingdom",
    "check_http",
    "validator",
    "feedfetcher",
    "proxy",
    # HTTP libraries and command-line clients
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "httpx",
    "aiohttp",
    "go-http-client",
    "okhttp",
    "java/",
    "libwww-perl",
    "apache-httpclient",
    "jakarta commons-httpclient",
    "node-fetch",
    "undici",
    "axios/",
    "scrapy",
    "http.rb",
    "guzzlehttp",
    "postmanruntime",
    "insomnia",
    "dart/",
    "deno/",
)

#: Regular expressions for the few cases a substring cannot say precisely.
BOT_UA_PATTERNS: tuple[str, ...] = (
    # "...bot" of every crawler, but not the Cubot phones ("CUBOT X30") whose owners are people
    r"(?<!cu)bot",
    # Viber's fetcher sends just "Viber"; its in-app browser is a person's Mozilla/5.0 string
    r"^\s*viber\b",
)

_BOT_RE = re.compile(
    "|".join([*(re.escape(f) for f in BOT_UA_FRAGMENTS), *BOT_UA_PATTERNS]), re.IGNORECASE
)


def is_bot(user_agent: str | None) -> bool:
    """True for automated clients; an empty user agent is a script, not a person."""
    if not user_agent or not user_agent.strip():
        return True
    return _BOT_RE.search(user_agent) is not None


#: Request headers by which browsers mark a speculative fetch (nobody has clicked yet).
PREFETCH_HEADERS: tuple[tuple[str, str], ...] = (
    ("HTTP_SEC_PURPOSE", "prefetch"),  # speculation rules, <link rel=prefetch> (Firefox)
    ("HTTP_PURPOSE", "prefetch"),  # Chrome's <link rel=prefetch>
    ("HTTP_X_PURPOSE", "preview"),  # Safari's Top Sites thumbnails
    ("HTTP_X_MOZ", "prefetch"),  # older Firefox
)


def is_prefetch(meta: Mapping[str, str]) -> bool:
    """True when the browser fetches the link speculatively, before (or without) a click."""
    return any(token in meta.get(key, "").lower() for key, token in PREFETCH_HEADERS)


def visitor_hash(ip: str, user_agent: str, when: datetime) -> str:
    """HMAC-SHA256 of (IP, user agent), keyed from ``SECRET_KEY`` and the UTC day.

    The daily key makes visitors unlinkable across days (and a repeat click just across
    midnight counts twice — an accepted, tiny over-count).
    """
    day = (when.astimezone(UTC) if when.tzinfo else when).strftime("%Y-%m-%d")
    return salted_hmac(
        f"kairos.tracking.visitor:{day}", f"{ip}\x1f{user_agent}", algorithm="sha256"
    ).hexdigest()


def client_hash(client: str, when: datetime) -> str:
    """HMAC-SHA256 of the client (an IPv4 address or an IPv6 /64, see
    :mod:`calendar_app.client_address`), keyed like :func:`visitor_hash` by ``SECRET_KEY`` and the
    UTC day: what the per-client limit counts by, whatever user agent the client sends."""
    day = (when.astimezone(UTC) if when.tzinfo else when).strftime("%Y-%m-%d")
    return salted_hmac(f"kairos.tracking.client:{day}", client, algorithm="sha256").hexdigest()


def append_click_id(url: str, click_token: str) -> str:
    """``url`` with ``kc=<click_token>`` added (replacing any ``kc`` already there)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != CLICK_PARAM]
    query.append((CLICK_PARAM, click_token))
    return urlunsplit(parts._replace(query=urlencode(query)))


def pass_utm_through(url: str, query: Mapping[str, str]) -> str:
    """Carry ``utm_*`` parameters of the short link over to its target.

    Posts are UTM-tagged after the CTA link was shortened, so the tags land on the short link;
    passing them through keeps the brand's own analytics attributing the visit to Kairos.
    """
    utm = [
        (k, v) for k, v in query.items() if k.startswith("utm_") and len(k) <= 40 and len(v) <= 200
    ]
    if not utm:
        return url
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in dict(utm)]
    return urlunsplit(parts._replace(query=urlencode(kept + utm)))


@dataclass(frozen=True, slots=True)
class Redirect:
    """Where to send the visitor, and the click recorded (None for a bot)."""

    location: str
    click_token: str | None


def record_click(
    code: str, *, ip: str, user_agent: str, now: datetime | None = None, record: bool = True
) -> Redirect | None:
    """Count one click on ``/r/<code>``; None when no link has that code.

    Bots, and requests the caller says not to ``record`` (``HEAD``), are redirected and not
    recorded. Any other click is recorded - its id goes to the target site, so a conversion can
    come back with it - and *counted* unless the database finds, inside the one INSERT:

    * a counted click of the same visitor (address and user agent) on this link within
      :data:`DEDUPE_WINDOW`: a repeat, or
    * ``KAIROS_CLICK_CLIENT_LIMIT`` counted clicks of the same client (address, or IPv6 /64,
      whatever the user agent) on this link within ``KAIROS_CLICK_CLIENT_WINDOW``: one client
      rotating user agents to inflate a variant.

    On SQLite, two queries: the link by its unique code, then the INSERT, which SQLite runs
    under its write lock. On PostgreSQL a recorded click is one call of a function
    (calendar_app.click_function) that reads the link, takes a transaction-scoped advisory lock
    on (link, client), so a burst of parallel clicks from one client cannot all see "under the
    limit" at once (clicks of different clients never wait for each other), and inserts.
    """
    recorded = record and not is_bot(user_agent)
    if recorded and connection.vendor == "postgresql":
        return _record_on_postgresql(code, user_agent, client_key(ip), now or timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(_link_sql(), [code])
        row = cursor.fetchone()
    if row is None:
        return None
    link_id, target = row
    if not recorded:
        return Redirect(target, None)
    now = now or timezone.now()
    client = client_key(ip)
    visitor = visitor_hash(client, user_agent, now)
    who = client_hash(client, now)
    limit, window = _client_limit()
    token = new_click_token()
    adapt = connection.ops.adapt_datetimefield_value
    # No upper bound on clicked_at: a click recorded by a parallel request whose clock read came
    # a moment after ours is still the same client's click.
    with connection.cursor() as cursor:
        cursor.execute(
            _insert_sql(),
            [
                *(link_id, token, adapt(now), visitor, who),
                *(link_id, True, visitor, adapt(now - DEDUPE_WINDOW), False),
                *(link_id, True, who, adapt(now - window), limit - 1, False, True),
            ],
        )
    return Redirect(append_click_id(target, token), token)


def _record_on_postgresql(
    code: str, user_agent: str, client: str, now: datetime
) -> Redirect | None:
    """One round trip: the function reads the link, locks (link, client), then inserts with a
    snapshot taken once the lock is granted, so it sees the clicks committed while this one
    waited (a parallel request whose clock read came a moment later, and got the lock first, is
    still the same client's click). PostgreSQL plans it once per connection. Unless clicks are
    to be durable, it tells this transaction's commit not to wait for the disk: the visitor is
    on their way whatever happens, and a database crash may lose the last moment of clicks."""
    who = client_hash(client, now)
    limit, window = _client_limit()
    token = new_click_token()
    with connection.cursor() as cursor:
        cursor.execute(
            click_function.CALL,
            [
                *(code, _LOCK_CLASS, not settings.KAIROS_CLICK_DURABLE_COMMIT, token, now),
                *(visitor_hash(client, user_agent, now), who),
                *(now - DEDUPE_WINDOW, now - window, limit - 1),
            ],
        )
        (target,) = cursor.fetchone()
    if target is None:
        return None
    return Redirect(append_click_id(target, token), token)


def _client_limit() -> tuple[int, timedelta]:
    """How many counted clicks one client may make on a link, and within how long."""
    limit = max(1, int(settings.KAIROS_CLICK_CLIENT_LIMIT))
    return limit, timedelta(seconds=settings.KAIROS_CLICK_CLIENT_WINDOW)


#: First key of the PostgreSQL advisory locks taken for a click ("KCLK"); the second is a hash
#: of the link and the client, taken by the function (calendar_app.click_function).
_LOCK_CLASS = 0x4B434C4B


@functools.cache
def _link_sql() -> str:
    """The link by its unique code (no ORDER BY: the code is unique)."""
    q = connection.ops.quote_name
    link = TrackedLink._meta
    return (
        f"SELECT {q(link.pk.column)}, {q(link.get_field('target_url').column)} "
        f"FROM {q(link.db_table)} WHERE {q(link.get_field('code').column)} = %s"
    )


@functools.cache
def _insert_sql() -> str:
    """The click's INSERT, with both counting tests as ``EXISTS`` inside it.

    Written once as SQL rather than built by the ORM per click: compiling the ``Case``/``Exists``
    expression cost about ten times the statement itself, on the hottest path Kairos serves.
    ``tests/experiments/test_click_sql.py`` holds it equal to the rule in the docstring above.
    The text is the same for SQLite and PostgreSQL (booleans and datetimes go as parameters,
    adapted by the backend).
    """
    q = connection.ops.quote_name
    click = Click._meta
    table = q(click.db_table)
    link, token, at, visitor, who, counted = (
        q(click.get_field(name).column)
        for name in ("link", "token", "clicked_at", "visitor_hash", "client_hash", "is_counted")
    )
    return (
        f"INSERT INTO {table} ({link}, {token}, {at}, {visitor}, {who}, {counted}) "
        f"SELECT %s, %s, %s, %s, %s, CASE "
        f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {link} = %s AND {counted} = %s "
        f"AND {visitor} = %s AND {at} > %s) THEN %s "
        f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {link} = %s AND {counted} = %s "
        f"AND {who} = %s AND {at} > %s LIMIT 1 OFFSET %s) THEN %s "
        f"ELSE %s END"
    )


def _short_url(code: str) -> str:
    base = getattr(settings, "KAIROS_TRACKING_BASE_URL", "").rstrip("/")
    return f"{base}/r/{code}"


def tracked_url_for(publication: Publication, url: str, variant: Variant | None = None) -> str:
    """The short tracked URL that stands for ``url`` in ``publication`` (created once, reused).

    ``variant`` defaults to the publication's; pass it explicitly on per-recipient networks,
    where the publication has none and each variant's recipients get their own link.
    Set ``KAIROS_TRACKING_BASE_URL`` (e.g. ``https://k.example.com``) so links are absolute.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"only http(s) links can be tracked, got {url!r}")
    variant_id = variant.pk if variant is not None else publication.variant_id
    lookup = Q(publication=publication, target_url=url) & (
        Q(variant_id=variant_id) if variant_id is not None else Q(variant__isnull=True)
    )
    existing = TrackedLink.objects.filter(lookup).values_list("code", flat=True).first()
    if existing:
        return _short_url(existing)
    for _ in range(5):  # a collision of 48 random bits is rare; retry with a fresh code
        try:
            with transaction.atomic():
                link = TrackedLink.objects.create(
                    workspace_id=publication.workspace_id,
                    publication=publication,
                    variant_id=variant_id,
                    target_url=url,
                )
            return _short_url(link.code)
        except IntegrityError:
            existing = TrackedLink.objects.filter(lookup).values_list("code", flat=True).first()
            if existing:  # created concurrently by another worker
                return _short_url(existing)
    raise RuntimeError("could not allocate a unique short code after 5 attempts")
