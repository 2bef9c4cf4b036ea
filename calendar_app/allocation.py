"""Which variant each publication of an experiment gets, so that no variant is confounded.

Why it matters: if the challenger mostly went out on one network, or mostly at lunchtime, a
difference in click-through would measure the network or the hour, not the call to action. So
the allocation keeps the planned split (the variants' weights) *within every network* and
*within every hour-of-day bucket* (in the brand's time zone, because audiences live in local
time), at every step — not only in the final tally.

The method is deterministic (same history, same answer; no random state to store or replay):
for a new publication on network *n* at local hour bucket *h*, each variant's *deficit* in a
group is ``planned share × (publications in the group + 1) - its publications in the group``.
We pick the variant that keeps the worst deviation from target, over the network's and the
hour bucket's counts, smallest; ties go to the largest combined deficit, then the largest
deficit overall, then the variant key.

Honest limit: balancing one dimension online keeps every variant within 1 publication of its
target (the classic largest-deficit rule). Balancing two crossed dimensions online cannot
promise that: an adversarial order (network A/hour 9 gets *x*, network B/hour 10 gets *y*, then
network A/hour 10 arrives) forces one of the two groups off by more than 1, whatever is chosen.
The minimax rule keeps both within 2 (simulations and the Hypothesis tests find at most ≈1.67);
when every publication falls in one network and one hour bucket it is within 1.

Networks that can split one post per recipient (an email list; ``Capabilities.per_recipient_split``)
get a publication without a variant; the recipients are then split by :func:`split_recipients`
— a finer, truly random unit — and the delivery records the split with
:func:`record_recipient_split`, whose counts are the variants' exposures.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

from django.db import transaction
from django.db.models import Count
from django.db.models.functions import ExtractHour

from calendar_app.models import (
    Channel,
    ContentItem,
    Experiment,
    Publication,
    PublicationStatus,
    RecipientSplit,
    Variant,
)
from calendar_app.plugins_runtime import get_plugins
from publishers.splitting import Weighted
from publishers.splitting import split_recipients as _split_recipients

logger = logging.getLogger("kairos.allocation")

#: Width of an hour-of-day bucket, in hours (1 = every local hour is its own bucket).
HOUR_BUCKET_HOURS = 1

R = TypeVar("R", bound=Hashable)


# --- the pure rule --------------------------------------------------------------------------


def _deficits(
    weights: Mapping[str, float], counts: Mapping[str, int], total_weight: float
) -> dict[str, float]:
    n = sum(counts.get(k, 0) for k in weights) + 1
    return {k: n * w / total_weight - counts.get(k, 0) for k, w in weights.items()}


def _worst_after(deficits: Mapping[str, float], chosen: str) -> float:
    return max(abs(d - (1 if k == chosen else 0)) for k, d in deficits.items())


def choose_variant(
    weights: Mapping[str, float],
    network_counts: Mapping[str, int],
    hour_counts: Mapping[str, int],
    overall_counts: Mapping[str, int] | None = None,
) -> str:
    """The variant key for the next publication, given the publications so far per variant in
    its network, in its hour bucket and overall (see the module docstring for the rule).

    Pure and deterministic so it can be property-tested without a database.
    """
    if not weights:
        raise ValueError("an experiment needs at least one variant")
    if any(w <= 0 for w in weights.values()):
        raise ValueError(f"every weight must be positive, got {dict(weights)}")
    total = float(sum(weights.values()))
    d_net = _deficits(weights, network_counts, total)
    d_hour = _deficits(weights, hour_counts, total)
    d_all = _deficits(weights, overall_counts or {}, total)

    def rank(key: str) -> tuple[float, float, float, str]:
        worst = max(_worst_after(d_net, key), _worst_after(d_hour, key))
        # Round so that float noise never breaks a tie differently on two machines.
        return (round(worst, 9), -round(d_net[key] + d_hour[key], 9), -round(d_all[key], 9), key)

    return min(weights, key=rank)


def hour_bucket(hour: int, bucket_hours: int = HOUR_BUCKET_HOURS) -> int:
    return hour // bucket_hours


# --- per-recipient split --------------------------------------------------------------------


def split_recipients(
    recipient_ids: Iterable[R],
    variants: Sequence[Weighted] | Sequence[tuple[str, int]],
    seed: str,
) -> dict[str, list[R]]:
    """Split recipients between variants by weight (see :func:`publishers.split_recipients`,
    where the rule lives so that network plugins can use it too).

    Use the experiment's id as the seed (``"experiment:42"``) so a recipient gets the same
    variant in every send of the experiment.
    """
    return _split_recipients(recipient_ids, variants, seed)


def record_recipient_split(
    publication: Publication,
    assignment: Mapping[str, Sequence[object] | int],
    *,
    strict: bool = True,
) -> list[RecipientSplit]:
    """Store how many recipients got each variant (idempotent: a retry overwrites the counts).

    ``assignment`` maps variant keys to the recipients (as :func:`split_recipients` returns
    them) or directly to their number (as a network reports it in
    ``PublishResult.recipients_per_variant``). These counts are the variants' exposures in the
    analysis. A key that is not a variant of the item's experiment raises ``ValueError``, or is
    logged and skipped with ``strict=False`` (the delivery's choice: the post is out already).
    Two queries: the experiment's variants, then one upsert.
    """
    experiment_id = publication.content_item.experiment_id
    variants = {v.key: v for v in Variant.objects.filter(experiment_id=experiment_id)}
    unknown = sorted(set(assignment) - set(variants))
    if unknown:
        if strict:
            raise ValueError(f"unknown variant(s) {unknown} for experiment {experiment_id}")
        logger.warning(
            "publication %s: the network reported recipients for unknown variant(s) %s; ignored",
            publication.pk,
            unknown,
        )
    rows = []
    for key, recipients in assignment.items():
        if key not in variants:
            continue
        count = recipients if isinstance(recipients, int) else len(recipients)
        if count < 0:
            raise ValueError(f"recipients of {key!r} must be >= 0, got {count}")
        rows.append(
            RecipientSplit(
                workspace_id=publication.workspace_id,
                publication=publication,
                variant=variants[key],
                recipients=count,
            )
        )
    if rows:
        RecipientSplit.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["publication", "variant"],
            update_fields=["recipients", "updated_at"],
        )
    return rows


# --- capabilities ---------------------------------------------------------------------------


def per_recipient_split(network: str) -> bool:
    """Whether ``network`` splits one post per recipient (its plugin's capabilities say so).

    An unknown network (plugin not installed) is treated as a plain network: the safe default,
    since a per-publication variant is correct everywhere, only coarser.
    """
    try:
        return bool(get_plugins().network(network).capabilities.per_recipient_split)
    except Exception:  # no plugin, or a broken one: fall back to per publication
        return False


# --- the database side ----------------------------------------------------------------------


def current_counts(
    experiment: Experiment, *, time_zone: str, bucket_hours: int = HOUR_BUCKET_HOURS
) -> dict[tuple[str, int], dict[str, int]]:
    """Publications so far per (network, local hour bucket) and variant key — one query."""
    rows = (
        Publication.objects.filter(variant__experiment_id=experiment.pk)
        .exclude(status=PublicationStatus.CANCELLED)
        .annotate(local_hour=ExtractHour("due_at", tzinfo=_zone(time_zone)))
        .values("variant__key", "channel__network", "local_hour")
        .annotate(n=Count("id"))
        .order_by()
    )
    out: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
    for row in rows:
        cell = out[(row["channel__network"], hour_bucket(row["local_hour"], bucket_hours))]
        cell[row["variant__key"]] = cell.get(row["variant__key"], 0) + row["n"]
    return out


def _zone(name: str):
    import zoneinfo

    return zoneinfo.ZoneInfo(name)


def _marginal(
    counts: Mapping[tuple[str, int], Mapping[str, int]], keep: Callable[[str, int], bool]
) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for (network, bucket), per_variant in counts.items():
        if keep(network, bucket):
            for key, n in per_variant.items():
                total[key] += n
    return dict(total)


def allocate_variant(item: ContentItem, channel: Channel) -> Variant | None:
    """The variant for ``item``'s publication on ``channel`` (None: no experiment, or the
    network splits per recipient). Deterministic given the experiment's publications so far."""
    if item.experiment_id is None:
        return None
    if per_recipient_split(channel.network):
        return None
    experiment_qs = Experiment.objects.filter(pk=item.experiment_id)
    if transaction.get_connection().in_atomic_block:
        # Two items scheduled at once must not both read the same counts and pick alike.
        experiment_qs = experiment_qs.select_for_update()
    experiment = experiment_qs.get()
    variants = {v.key: v for v in Variant.objects.filter(experiment_id=experiment.pk)}
    if not variants:
        return None
    time_zone = item.brand.time_zone
    when = item.scheduled_at
    bucket = 0 if when is None else hour_bucket(when.astimezone(_zone(time_zone)).hour)
    counts = current_counts(experiment, time_zone=time_zone)
    key = choose_variant(
        {k: v.weight for k, v in variants.items()},
        _marginal(counts, lambda network, _b: network == channel.network),
        _marginal(counts, lambda _n, b: b == bucket),
        _marginal(counts, lambda _n, _b: True),
    )
    return variants[key]
