"""The retry policy in force for each network: the operator's settings, not constants.

Three layers, the later winning: the operator's defaults (``KAIROS_RETRY_MAX_ATTEMPTS``,
``KAIROS_RETRY_BASE``, ``KAIROS_RETRY_FACTOR``, ``KAIROS_RETRY_CAP``, ``KAIROS_RETRY_JITTER``,
``KAIROS_RETRY_MAX_RETRY_AFTER``); the network's own ``retry_policy`` when its plugin declares one
(it knows its rate limits); the operator's per-network overrides in ``KAIROS_RETRY_NETWORKS``
(JSON, e.g. ``{"webhook": {"max_attempts": 5}}``). docs/production.md lists them.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from publishers import RetryPolicy

FIELDS = {f.name for f in dataclasses.fields(RetryPolicy)}


def default_policy() -> RetryPolicy:
    """The operator's policy for every network that does not say otherwise."""
    return RetryPolicy(
        base=settings.KAIROS_RETRY_BASE,
        factor=settings.KAIROS_RETRY_FACTOR,
        cap=settings.KAIROS_RETRY_CAP,
        max_attempts=settings.KAIROS_RETRY_MAX_ATTEMPTS,
        max_retry_after=settings.KAIROS_RETRY_MAX_RETRY_AFTER,
        jitter=settings.KAIROS_RETRY_JITTER,
    )


def network_overrides() -> dict[str, dict[str, float]]:
    """``KAIROS_RETRY_NETWORKS`` parsed and checked; raises ImproperlyConfigured when malformed."""
    raw = settings.KAIROS_RETRY_NETWORKS
    try:
        overrides = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
    except ValueError as exc:
        raise ImproperlyConfigured(f"KAIROS_RETRY_NETWORKS is not valid JSON: {exc}") from exc
    if not isinstance(overrides, dict):
        raise ImproperlyConfigured("KAIROS_RETRY_NETWORKS must be a JSON object keyed by network")
    for network, changes in overrides.items():
        if not isinstance(changes, dict):
            raise ImproperlyConfigured(f"KAIROS_RETRY_NETWORKS[{network!r}] must be an object")
        unknown = set(changes) - FIELDS
        if unknown:
            raise ImproperlyConfigured(
                f"KAIROS_RETRY_NETWORKS[{network!r}]: unknown {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(FIELDS))}"
            )
    return overrides


def _declared(network_key: str) -> RetryPolicy | None:
    from calendar_app.plugins_runtime import get_plugins
    from publishers import UnknownNetworkError

    try:
        return get_plugins().network(network_key).retry_policy
    except UnknownNetworkError:
        return None


@cache
def policy_for(network_key: str) -> RetryPolicy:
    """The policy for ``network_key`` (cached per process: settings are read at start)."""
    policy = _declared(network_key) or default_policy()
    changes = network_overrides().get(network_key)
    if changes:
        try:
            policy = policy.replace(**changes)
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(f"KAIROS_RETRY_NETWORKS[{network_key!r}]: {exc}") from exc
    return policy


def check_configuration() -> list[str]:
    """Problems with the retry settings, for the system check (empty when they are usable)."""
    problems = []
    try:
        default_policy()
    except ValueError as exc:
        problems.append(f"KAIROS_RETRY_*: {exc}")
    try:
        for network, changes in network_overrides().items():
            try:
                default_policy().replace(**changes)
            except (TypeError, ValueError) as exc:
                problems.append(f"KAIROS_RETRY_NETWORKS[{network!r}]: {exc}")
    except ImproperlyConfigured as exc:
        problems.append(str(exc))
    return problems
