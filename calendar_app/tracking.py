"""Tracked links: the short redirect that counts clicks networks do not report.

Why it is shaped this way: a viral post can send thousands of clicks a minute, so a click costs
one indexed lookup (the link by its unique code) and one INSERT — the de-duplication test is a
``NOT EXISTS`` evaluated *inside* that INSERT, not a separate round trip. Bots (link-preview
fetchers of every network, crawlers, scripts) are recognised by user agent and not recorded at
all. A visitor is known only by a salted HMAC of (IP, user agent) whose key changes every UTC
day, so repeat clicks within :data:`DEDUPE_WINDOW` count once, and nothing personal is stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from calendar_app.models import Click, Publication, TrackedLink, Variant

#: Repeat clicks of one visitor on one link within this window count once.
DEDUPE_WINDOW = timedelta(minutes=30)

#: Name of the query parameter carrying the click id to the target site.
CLICK_PARAM = "kc"

#: User-agent fragments of automated clients (case-insensitive). Link-preview fetchers matter
#: most: every network fetches each link once per post, or per server for the fediverse.
BOT_UA_FRAGMENTS: tuple[str, ...] = (
    "bot",
    "crawl",
    "spider",
    "slurp",
    "preview",
    "facebookexternalhit",
    "facebookcatalog",
    "meta-externalagent",
    "embedly",
    "whatsapp",
    "skypeuripreview",
    "mastodon",
    "pleroma",
    "misskey",
    "akkoma",
    "bluesky",
    "cardyb",
    "headlesschrome",
    "phantomjs",
    "lighthouse",
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
    "node-fetch",
    "axios/",
    "scrapy",
    "monitor",
    "uptime",
    "pingdom",
    "check_http",
    "validator",
    "feedfetcher",
    "proxy",
)
_BOT_RE = re.compile("|".join(re.escape(f) for f in BOT_UA_FRAGMENTS), re.IGNORECASE)


def is_bot(user_agent: str | None) -> bool:
    """True for automated clients; an empty user agent is a script, not a person."""
    if not user_agent or not user_agent.strip():
        return True
    return _BOT_RE.search(user_agent) is not None


def visitor_hash(ip: str, user_agent: str, when: datetime) -> str:
    """HMAC-SHA256 of (IP, user agent), keyed from ``SECRET_KEY`` and the UTC day.

    The daily key makes visitors unlinkable across days (and a repeat click just across
    midnight counts twice — an accepted, tiny over-count).
    """
    day = (when.astimezone(UTC) if when.tzinfo else when).strftime("%Y-%m-%d")
    return salted_hmac(
        f"kairos.tracking.visitor:{day}", f"{ip}\x1f{user_agent}", algorithm="sha256"
    ).hexdigest()


def client_ip(meta: dict) -> str:
    """The client's address; ``X-Forwarded-For`` is trusted only behind a known proxy
    (``KAIROS_TRUST_X_FORWARDED_FOR``), else anyone could forge a new visitor per click."""
    if getattr(settings, "KAIROS_TRUST_X_FORWARDED_FOR", False):
        forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return meta.get("REMOTE_ADDR", "") or ""


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
    code: str, *, ip: str, user_agent: str, now: datetime | None = None
) -> Redirect | None:
    """Count one click on ``/r/<code>``; None when no link has that code.

    Two queries: the link by its unique code, then one INSERT whose ``is_counted`` is computed
    by the database as "no counted click of this visitor on this link within the window".
    """
    row = TrackedLink.objects.filter(code=code).values_list("pk", "target_url").first()
    if row is None:
        return None
    link_id, target = row
    if is_bot(user_agent):
        return Redirect(target, None)
    now = now or timezone.now()
    visitor = visitor_hash(ip, user_agent, now)
    repeat = Click.objects.filter(
        link_id=link_id,
        visitor_hash=visitor,
        is_counted=True,
        clicked_at__gt=now - DEDUPE_WINDOW,
        clicked_at__lte=now,
    )
    click = Click(link_id=link_id, clicked_at=now, visitor_hash=visitor)
    click.is_counted = ~Exists(repeat)
    click.save(force_insert=True)
    return Redirect(append_click_id(target, click.token), click.token)


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
