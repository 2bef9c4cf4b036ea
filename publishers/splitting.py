"""Splitting one post's recipients between an experiment's variants.

Networks that reach split audiences with one post (an email list; ``Capabilities.
per_recipient_split``) receive the experiment's arms in ``Post.variants`` and split their
recipients with :func:`split_recipients`, then report the counts in
``PublishResult.recipients_per_variant``. The rule is pure and deterministic, so a plugin can use
it without a database and an idempotent retry splits exactly as the first attempt did.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Protocol, TypeVar

__all__ = ["Weighted", "split_counts", "split_recipients"]

R = TypeVar("R", bound=Hashable)


class Weighted(Protocol):
    """Anything with a variant ``key`` and a positive integer ``weight`` (a
    :class:`~publishers.VariantOffer`, or the host's variant row)."""

    key: str
    weight: int


def _unit_interval(seed: str, recipient: Hashable) -> float:
    digest = hashlib.sha256(f"{seed}\x1f{recipient}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _pairs(variants: Sequence[Weighted] | Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    pairs = []
    for v in variants:
        key, weight = (v[0], v[1]) if isinstance(v, tuple) else (v.key, v.weight)
        if isinstance(weight, bool) or int(weight) != weight:
            raise ValueError(f"weight of {key!r} must be an integer, got {weight!r}")
        pairs.append((str(key), int(weight)))
    if not pairs:
        raise ValueError("split_recipients needs at least one variant")
    if any(w < 1 for _, w in pairs):
        raise ValueError(f"every weight must be >= 1, got {dict(pairs)}")
    if len({k for k, _ in pairs}) != len(pairs):
        raise ValueError(f"variant keys must be distinct, got {[k for k, _ in pairs]}")
    return pairs


def split_recipients(
    recipient_ids: Iterable[R],
    variants: Sequence[Weighted] | Sequence[tuple[str, int]],
    seed: str,
) -> dict[str, list[R]]:
    """Split recipients between variants by weight: deterministic, proportional in expectation.

    Each recipient is hashed with ``seed`` onto [0, 1) and lands in the variant whose
    cumulative-weight interval holds it. Hashing, rather than sorting the list and cutting it,
    makes the split a genuine random assignment (so the sample-ratio check applies) and keeps a
    recipient's variant independent of who else is on the list. With a seed that names the
    experiment (``"experiment:42"``) a recipient gets the *same* variant in every send of the
    experiment, so no one sees both calls to action.

    Returns ``{variant key: [recipient ids in input order]}`` with every variant present (in
    the order given). Each recipient id lands in exactly one variant; ids are compared by their
    ``str``, so give distinct ids distinct string forms.
    """
    pairs = _pairs(variants)
    total = sum(w for _, w in pairs)
    bounds: list[tuple[float, str]] = []
    cumulative = 0
    for key, weight in pairs:
        cumulative += weight
        bounds.append((cumulative / total, key))
    out: dict[str, list[R]] = {key: [] for key, _ in pairs}
    for recipient in recipient_ids:
        u = _unit_interval(seed, recipient)
        for upper, key in bounds:
            if u < upper:
                out[key].append(recipient)
                break
        else:  # u is always < 1.0 == the last bound, but floats deserve a guard
            out[bounds[-1][1]].append(recipient)
    return out


def split_counts(assignment: Mapping[str, Sequence[object]]) -> dict[str, int]:
    """How many recipients each variant got: what ``PublishResult.recipients_per_variant``
    reports."""
    return {key: len(recipients) for key, recipients in assignment.items()}
