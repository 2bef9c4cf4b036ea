"""The readiness check: before the window opens, would every armed post go out?

For every armed template × each of its channels the check answers green, or red with each
reason, in words a marketer can act on:

* the template renders with the moment's sample values (a placeholder without a sample gets a
  stand-in of realistic length, and the report says so) and validates on the channel the way
  the network counts (length, media, links), with
  :func:`~calendar_app.delivery.preflight.template_previews`;
* the template can be fired at all: switched on, approved, fires left under ``max_fires``;
* the channel is connected, its credentials are renewed where the network allows it
  (:meth:`publishers.Network.refresh_credentials`: a new token now, not one that expires
  mid-match) and pass the network's connection test - each distinct channel once per check;
* the channel is not paused by the network, its last rate-limit reading leaves room for the
  template's remaining fires, and so does its daily cap (the channel's ``daily_post_cap`` or the
  network's ``max_posts_per_day``, the smaller): posts made in the last 24 hours and those
  still due before the window closes count against it;
* the links and the call to action resolve: each distinct address (placeholders filled) is
  asked with a ``HEAD`` (a ``GET`` when the site refuses ``HEAD``) through the SSRF-safe, pinned
  client of :mod:`publishers.http`, with a short time-out; an error answer, no answer or a
  private address is red. ``KAIROS_READINESS_CHECK_LINKS=0`` checks their form only;
* no active crisis covers the template (it would be refused at the click).

The report is kept on the moment; any red item sends ``moment.readiness_failed``.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Prefetch
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from calendar_app.delivery.preflight import template_previews
from calendar_app.models import Channel, ChannelStatus, ReactiveTemplate
from calendar_app.moments.models import DUE_CHECKS, Moment
from calendar_app.outbound import events
from calendar_app.outbound.catalogue import MOMENT_READINESS_FAILED
from publishers import fill

logger = logging.getLogger("kairos.moments")
#: A stand-in sample value's length: as long as a real one (a player's full name, a score line).
SAMPLE_LENGTH = 24
#: How many red items the webhook event lists (the count is always complete).
LISTED = 50
#: The key under which links are checked: the operator may let it reach private addresses (an
#: intranet landing page) by adding it to ``KAIROS_ALLOW_PRIVATE_NETWORKS``.
LINK_CHECK = "link-check"
USER_AGENT = "Kairos-LinkCheck/1"
#: How many distinct addresses one check asks at most (the rest are checked by form only).
MAX_LINKS = 100


def stand_in(name: str) -> str:
    """A placeholder's stand-in sample: its name padded to a realistic length."""
    return (f"{name} " * SAMPLE_LENGTH)[: max(SAMPLE_LENGTH, len(name))].strip()


def sample_values(moment: Moment, template: ReactiveTemplate) -> tuple[dict[str, str], list[str]]:
    """The values the check renders ``template`` with, and the placeholders given a stand-in."""
    from calendar_app.reactive import required_placeholders

    given = {str(k): str(v) for k, v in (moment.sample_values or {}).items()}
    needed = required_placeholders(template)
    defaulted = sorted(needed - set(given))
    return {**given, **{name: stand_in(name) for name in defaulted}}, defaulted


def _reason(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def template_urls(template: ReactiveTemplate, values: dict[str, str]) -> list[str]:
    """The addresses a fire of ``template`` would link to: its links (placeholders filled) and
    its call to action."""
    urls = [fill(link, values)[0] for link in template.links or ()]
    if template.cta_url and not template.without_cta:
        urls.append(template.cta_url)
    return urls


_CLIENT: list = []


def _link_client():
    """The process's link-checking client. No connection is kept alive: each request is pinned
    to the address checked for its own host (with its own TLS name), so none may reuse another
    host's connection."""
    import httpx

    if not _CLIENT:
        _CLIENT.append(
            httpx.Client(follow_redirects=False, limits=httpx.Limits(max_keepalive_connections=0))
        )
    return _CLIENT[0]


def resolve_links(urls: list[str]) -> dict[str, str]:
    """Ask each distinct address whether it answers: ``{url: problem}`` ("" when it does).

    Through :func:`publishers.http.send_request` - the host resolved and every address checked,
    the connection pinned to it - with a short time-out; redirects are not followed (a 3xx is
    an answer). A site that refuses ``HEAD`` is asked with ``GET``."""
    import httpx

    from publishers import PublisherError
    from publishers.addresses import AddressRefused
    from publishers.http import send_request

    seconds = float(getattr(settings, "KAIROS_READINESS_LINK_TIMEOUT", 3.0))
    timeout = httpx.Timeout(seconds, connect=seconds)
    found: dict[str, str] = {}
    wanted = list(dict.fromkeys(urls))[:MAX_LINKS]
    if not wanted:
        return found
    client = _link_client()  # one per process: its TLS context costs more than a request
    for url in wanted:
        if link_problem(url, allow_private=True):
            continue  # refused by form already
        try:
            for method in ("HEAD", "GET"):
                response = send_request(
                    client,
                    method,
                    url,
                    network=LINK_CHECK,
                    peer="its site",
                    headers={"User-Agent": USER_AGENT},
                    timeout=timeout,
                )
                if response.status_code not in (405, 501):
                    break
        except AddressRefused:
            found[url] = "points at a private or reserved address."
        except PublisherError as exc:
            reason = "its host name does not resolve." if exc.code == "dns_failure" else exc.reason
            found[url] = f"does not answer: {reason}"
        except Exception as exc:  # a malformed answer, say: red, never a failed check
            found[url] = f"could not be checked ({type(exc).__name__})."
        else:
            status = response.status_code
            found[url] = f"answers HTTP {status}." if status >= 400 else ""
    return found


def _template_reasons(
    template: ReactiveTemplate, values: dict[str, str], resolved: dict[str, str] | None = None
) -> list[dict]:
    reasons = []
    if not template.is_active:
        reasons.append(_reason("inactive", "The template is switched off."))
    if not template.is_approved:
        reasons.append(
            _reason("not_approved", "The template's current text is not approved: approve it.")
        )
    left = template.max_fires - template.n_fires
    if left <= 0:
        reasons.append(
            _reason(
                "max_fires_reached",
                f"Already fired {template.n_fires} time(s), its maximum: raise max_fires.",
            )
        )
    if template.valid_until and template.valid_until <= timezone.now():
        reasons.append(_reason("expired", "The template has expired (valid_until)."))
    from publishers.addresses import private_allowed

    private = private_allowed(LINK_CHECK)
    for url in template_urls(template, values):
        problem = link_problem(url, allow_private=private)
        if problem:
            reasons.append(_reason("bad_link", f"{url[:200]}: {problem}"))
        elif (resolved or {}).get(url):
            reasons.append(_reason("link_unreachable", f"{url[:200]} {resolved[url]}"))
    return reasons


def link_problem(url: str, *, allow_private: bool = False) -> str:
    """Why ``url`` cannot be a tracked link's target ("" when it can): http(s), a host, no
    literal private address (unless the operator allows them). No request is made."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        return "not a valid address."
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "must be an http(s) address with a host."
    if any(c.isspace() for c in url):
        return "contains spaces."
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        if "." not in parts.hostname and not allow_private:
            return "the host is not a public name."
        return ""
    return "" if address.is_global or allow_private else "points at a private address."


def _channel_reasons(channel: Channel, now: datetime, tested: list[dict]) -> list[dict]:
    reasons = []
    if channel.status != ChannelStatus.CONNECTED:
        reasons.append(
            _reason(
                "channel_not_connected",
                f"{channel.handle} is {channel.status}: reconnect it. {channel.status_reason}",
            )
        )
    for problem in tested:
        reasons.append(
            _reason(
                "credentials",
                f"{channel.handle}: the connection test failed: {problem.get('message', '')}",
            )
        )
    if channel.paused_until and channel.paused_until > now:
        reasons.append(
            _reason(
                "rate_limited",
                f"{channel.handle} is paused by the network until "
                f"{channel.paused_until:%Y-%m-%d %H:%M} UTC (rate limit).",
            )
        )
    return reasons


def _headroom(channel: Channel, fires_left: int, now: datetime) -> dict | None:
    """Red when the network's last reading leaves fewer requests than fires still allowed."""
    reading = channel.rate_limit or {}
    remaining = reading.get("remaining")
    reset = parse_datetime(reading["reset_at"]) if reading.get("reset_at") else None
    if not isinstance(remaining, int) or (reset is not None and reset <= now):
        return None
    if remaining < fires_left:
        until = f" until {reset:%H:%M} UTC" if reset else ""
        return _reason(
            "low_headroom",
            f"{channel.handle} has {remaining} request(s) left{until}, fewer than the "
            f"template's {fires_left} remaining fire(s).",
        )
    return None


def daily_room(channels: list[Channel], moment: Moment, now: datetime) -> dict[int, tuple]:
    """``{channel: (cap, left)}`` for the channels with a daily cap: the smaller of the
    channel's ``daily_post_cap`` and its network's ``max_posts_per_day``, less the posts made in
    the last 24 hours and those still due before the window closes (two queries)."""
    from django.db.models import Q

    from calendar_app.delivery.daily_caps import channel_daily_cap
    from calendar_app.models import Publication, PublicationStatus

    caps: dict[int, int] = {}
    for channel in channels:
        cap = channel_daily_cap(channel)
        if cap is not None:
            caps[channel.pk] = cap
    if not caps:
        return {}
    used = dict(
        Publication.objects.filter(channel_id__in=caps)
        .filter(
            Q(published_at__gte=now - timedelta(hours=24))
            | Q(
                status__in=[PublicationStatus.PENDING, PublicationStatus.PUBLISHING],
                due_at__lt=moment.ends_at,
            )
        )
        .values("channel_id")
        .annotate(n=Count("pk"))
        .values_list("channel_id", "n")
    )
    return {pk: (cap, max(cap - used.get(pk, 0), 0)) for pk, cap in caps.items()}


def _daily_cap(channel: Channel, fires_left: int, room: dict[int, tuple]) -> dict | None:
    if channel.pk not in room:
        return None
    cap, left = room[channel.pk]
    if left < fires_left:
        return _reason(
            "daily_cap",
            f"{channel.handle} may post {cap} time(s) in 24 hours and has {left} left before "
            f"the window closes, fewer than the template's {fires_left} remaining fire(s).",
        )
    return None


def _refresh_credentials(channel: Channel) -> tuple[bool, list[dict]]:
    """Renew the channel's credentials when its network allows it: (renewed, problems)."""
    from calendar_app.delivery.posts import channel_context
    from calendar_app.plugins_runtime import get_plugins
    from publishers import CredentialsExpired, PublisherError

    try:
        network = get_plugins().network(channel.network)
    except Exception:
        return False, []  # the connection test names the unknown network
    try:
        renewed = network.refresh_credentials(channel_context(channel))
    except CredentialsExpired as exc:
        return False, [{"code": "refresh_refused", "message": exc.reason}]
    except PublisherError as exc:
        return False, [{"code": "refresh_failed", "message": exc.reason}]
    if not renewed:
        return False, []
    channel.secrets = {**(channel.secrets or {}), **dict(renewed)}
    channel.save(update_fields=["secrets", "updated_at"])
    return True, []


def _test_connections(channels: list[Channel]) -> tuple[dict[int, list[dict]], set[int]]:
    """Each distinct channel's credentials renewed where the network allows it, then its
    connection test, once (a plugin that crashes is a red reason, never a failed check)."""
    from calendar_app.api.networks import test_connection

    results: dict[int, list[dict]] = {}
    refreshed: set[int] = set()
    for channel in channels:
        try:
            renewed, problems = _refresh_credentials(channel)
            if problems:
                results[channel.pk] = problems
                continue
            if renewed:
                refreshed.add(channel.pk)
            results[channel.pk] = test_connection(channel)
        except Exception as exc:  # a broken plugin must not stop the other checks
            logger.exception("connection test of channel %s crashed", channel.pk)
            results[channel.pk] = [{"code": "crashed", "message": str(exc)[:200]}]
    return results, refreshed


def _crisis_reasons(templates: list[ReactiveTemplate], workspace_id: int) -> dict[int, list]:
    from calendar_app.crisis import scope
    from calendar_app.crisis.services import active_activations, describe

    found: dict[int, list] = defaultdict(list)
    for activation in active_activations(workspace_id):
        holding = {t.pk for t in activation.playbook.holding_templates.all()}
        for template in templates:
            if template.pk not in holding and scope.covers_template(activation.playbook, template):
                found[template.pk].append(
                    _reason(
                        "crisis_active",
                        f"{describe(activation)} covers this template: it would be refused.",
                    )
                )
    return found


def check(moment: Moment, *, trigger: str = "manual", now: datetime | None = None) -> dict:
    """Run the readiness check for ``moment``, keep the report on it, and send
    ``moment.readiness_failed`` when anything is red. Returns the report."""
    now = now or timezone.now()
    started = time.perf_counter()
    templates = list(
        moment.templates.select_related("brand")
        .annotate(n_fires=Count("fires", distinct=True))
        .prefetch_related(Prefetch("channels", queryset=Channel.objects.order_by("pk")))
        .order_by("name", "pk")
    )
    channels = {c.pk: c for t in templates for c in t.channels.all()}
    tested, refreshed = _test_connections([c for c in channels.values() if c.status == "connected"])
    if tested:  # the test may have refreshed the channels' facts and rate-limit readings
        channels = {c.pk: c for c in Channel.objects.filter(pk__in=channels)}
    room = daily_room(list(channels.values()), moment, now)
    resolved: dict[str, str] = {}
    if getattr(settings, "KAIROS_READINESS_CHECK_LINKS", True):
        resolved = resolve_links(
            [url for t in templates for url in template_urls(t, sample_values(moment, t)[0])]
        )
    channel_reasons = {
        pk: _channel_reasons(c, now, tested.get(pk, [])) for pk, c in channels.items()
    }
    crisis = _crisis_reasons(templates, moment.workspace_id)
    items, summaries = [], []
    for template in templates:
        values, defaulted = sample_values(moment, template)
        own = _template_reasons(template, values, resolved) + crisis.get(template.pk, [])
        notes = (
            [
                f"No sample for {', '.join(defaulted)}: checked with a stand-in of "
                f"{SAMPLE_LENGTH} characters; add samples to the moment to check real lengths."
            ]
            if defaulted
            else []
        )
        if template.cta_url and not template.without_cta and not settings.KAIROS_TRACKING_BASE_URL:
            notes.append(
                "KAIROS_TRACKING_BASE_URL is not set: the call to action goes out untracked."
            )
        summaries.append(
            {
                "template": template.pk,
                "name": template.name,
                "ok": not own,
                "reasons": own,
                "notes": notes,
            }
        )
        targets = [channels[c.pk] for c in template.channels.all()]
        if not targets:
            items.append(_item(template, None, [*own, _reason("no_channels", "No channel.")]))
            continue
        previews: dict[int, list] = defaultdict(list)
        for preview in template_previews(template, values, targets):
            previews[preview.channel.pk].append(preview)
        left = max(template.max_fires - template.n_fires, 0)
        for channel in targets:
            reasons = list(own) + list(channel_reasons[channel.pk])
            for problem in (_headroom(channel, left, now), _daily_cap(channel, left, room)):
                if problem:
                    reasons.append(problem)
            said = " ".join(r["message"] for r in reasons)
            for preview in previews.get(channel.pk, []):
                # The network's validation repeats a settings problem the test already named.
                reasons += [
                    _reason(p.code, p.message) for p in preview.problems if p.message not in said
                ]
            items.append(_item(template, channel, reasons, previews.get(channel.pk, [])))
    red = [i for i in items if not i["ok"]]
    report = {
        "checked_at": events.iso(now),
        "trigger": trigger,
        "ok": bool(items) and not red,
        "green": len(items) - len(red),
        "red": len(red),
        "reason": "" if items else "No template is armed for this moment.",
        "items": items,
        "templates": summaries,
        "channels": [
            {
                "channel": pk,
                "handle": c.handle,
                "network": c.network,
                "ok": not channel_reasons[pk],
                "reasons": channel_reasons[pk],
                "credentials_refreshed": pk in refreshed,
                "daily_cap": room[pk][0] if pk in room else None,
                "daily_left": room[pk][1] if pk in room else None,
            }
            for pk, c in sorted(channels.items())
        ],
        "links_checked": len(resolved),
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    with transaction.atomic():
        Moment.objects.filter(pk=moment.pk).update(
            readiness=report, readiness_ok=report["ok"], readiness_checked_at=now, updated_at=now
        )
        moment.readiness, moment.readiness_ok, moment.readiness_checked_at = (
            report,
            report["ok"],
            now,
        )
        if not report["ok"]:
            events.emit(
                moment.workspace_id,
                MOMENT_READINESS_FAILED,
                {
                    "moment": {
                        "id": moment.pk,
                        "name": moment.name,
                        "starts_at": events.iso(moment.starts_at),
                        "ends_at": events.iso(moment.ends_at),
                    },
                    "trigger": trigger,
                    "reason": report["reason"],
                    "red_count": len(red),
                    "red": red[:LISTED],
                },
                moment.brand_id,
            )
    return report


def _item(template: ReactiveTemplate, channel: Channel | None, reasons: list, previews=()) -> dict:
    parts = [part for preview in previews for part in preview.to_dict().get("parts", [])]
    return {
        "template": template.pk,
        "template_name": template.name,
        "channel": channel.pk if channel else None,
        "network": channel.network if channel else "",
        "handle": channel.handle if channel else "",
        "ok": not reasons,
        "reasons": reasons,
        "parts": parts,
    }


def due_check(moment: Moment, now: datetime) -> str | None:
    """The automatic check due for ``moment`` at ``now`` (the latest mark passed and not yet
    run), or ``None``. A moment created at T-30min runs T-1h once, not T-24h and T-1h."""
    if now >= moment.starts_at:
        return None
    done = set(moment.checks_done or [])
    passed = [
        label for label, before in DUE_CHECKS if now >= moment.starts_at - timedelta(seconds=before)
    ]
    if not passed or passed[-1] in done:
        return None
    return passed[-1]


def run_due_checks(now: datetime | None = None) -> int:
    """Run every automatic readiness check that is due (called every minute by
    :func:`calendar_app.moments.services.tick`, the ``kairos.moment_readiness`` schedule).

    Each mark runs once: it is recorded, with the earlier marks it makes moot, before the check
    runs; one moment's failure stops no other."""
    now = now or timezone.now()
    horizon = now + timedelta(seconds=max(before for _, before in DUE_CHECKS))
    ran = 0
    labels = [name for name, _ in DUE_CHECKS]
    for pk in list(
        Moment.objects.filter(starts_at__gt=now, starts_at__lte=horizon).values_list(
            "pk", flat=True
        )
    ):
        with transaction.atomic():  # the row lock: two schedulers never run the same mark
            moment = Moment.objects.select_for_update().get(pk=pk)
            label = due_check(moment, now)
            if label is None:
                continue
            moment.checks_done = sorted(
                set(moment.checks_done or []) | set(labels[: labels.index(label) + 1])
            )
            moment.save(update_fields=["checks_done", "updated_at"])
        try:
            check(moment, trigger=label, now=now)
            ran += 1
        except Exception:
            logger.exception("readiness check %s of moment %s failed", label, moment.pk)
    return ran
