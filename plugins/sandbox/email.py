"""The sandbox email list: a local destination whose one post reaches split audiences.

It behaves like the sandbox network (JSON lines per channel under ``sandbox_dir`` /
``KAIROS_SANDBOX_DIR``, idempotent by key, ``find_existing``, the same scripted failures), and
adds what an email list does that a social feed cannot: each recipient gets their own message,
so one post of an experiment can give each recipient one variant's call to action
(``Capabilities.per_recipient_split``).

On publish, the recipients ``0 .. recipients-1`` (channel setting ``recipients``, default 1000)
are split between ``Post.variants`` with :func:`publishers.split_recipients`. The seed names the
experiment (``"experiment:<Post.experiment_key>"``) so a recipient gets the same variant in every
send of the experiment, or is the idempotency key when the post names no experiment; either way
a retry splits exactly as the first attempt. The post record keeps the seed, the counts per
variant and each variant's message; :class:`publishers.PublishResult` reports the counts in
``recipients_per_variant``.

Engagement is simulated per variant with the sandbox's model (``ramp_seconds``, ``seed``,
``rates``, ``variant_rates``): an arm's impressions (opens) ramp towards its recipients, clicks
and conversions follow its rates. ``fetch_metrics`` returns the totals, the only thing a real
email service reports per send, and appends a ``metrics`` record with the per-variant counts so a
person can see them in the file.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from plugins.sandbox.engagement import EngagementModel, simulate
from plugins.sandbox.network import (
    DIRECTORY_SETTING,
    FAILURE_SETTINGS,
    SandboxNetwork,
    engagement_settings,
)
from publishers import (
    Capabilities,
    ChannelContext,
    MetricSnapshot,
    Network,
    PermanentError,
    Post,
    Problem,
    PublicationRef,
    PublishResult,
    SettingField,
    capability_problems,
    split_counts,
    split_recipients,
    variant_posts,
)

__all__ = ["DEFAULT_RECIPIENTS", "SandboxEmailNetwork"]

DEFAULT_RECIPIENTS = 1000


def recipients_of(channel: ChannelContext) -> int:
    """The size of the channel's list (setting ``recipients``)."""
    value = channel.settings.get("recipients", DEFAULT_RECIPIENTS)
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"recipients must be a whole number, got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"recipients must be a whole number, got {value!r}") from None
    if number < 0:
        raise ValueError("recipients must be >= 0")
    return number


def split_seed(post: Post, idempotency_key: str) -> str:
    """The seed of the split: the experiment when the post names one, else the key."""
    return f"experiment:{post.experiment_key}" if post.experiment_key else idempotency_key


class SandboxEmailNetwork(SandboxNetwork):
    """A local email list that splits one post per recipient between an experiment's variants."""

    key = "sandbox_email"
    display_name = "Sandbox email list"
    capabilities = Capabilities(
        max_text_length=20000,
        max_links=50,
        supports_media=True,
        supports_links=True,
        supports_threads=False,
        supports_idempotency_key=True,
        can_find_existing=True,
        can_delete=False,
        metrics=("impressions", "clicks", "conversions"),
        per_recipient_split=True,
        # Recipients answer the email: replies, but an email list has no mentions or search.
        listening=("replies",),
    )
    fetch_mentions = Network.fetch_mentions
    search_posts = Network.search_posts
    settings_schema = (
        DIRECTORY_SETTING,
        SettingField(
            "recipients",
            "Recipients",
            "Size of the list; each variant's share of it is its audience.",
            "integer",
            default=DEFAULT_RECIPIENTS,
        ),
        *engagement_settings("opens"),
        *FAILURE_SETTINGS,
    )

    # --- validation ----------------------------------------------------------------------

    def validate(self, post: Post, channel: ChannelContext) -> list[Problem]:
        problems = super().validate(post, channel)
        # Each arm's message is the shared body plus that arm's call to action: check each.
        shared = {(p.code, p.field) for p in problems}
        for variant, message in variant_posts(post).items():
            for problem in capability_problems(message, self.capabilities):
                if (problem.code, problem.field) not in shared:
                    problems.append(
                        Problem(problem.code, f"Variant {variant!r}: {problem.message}", "variants")
                    )
        return problems

    def _settings_problems(self, channel: ChannelContext) -> list[Problem]:
        problems = super()._settings_problems(channel)
        try:
            recipients_of(channel)
        except (TypeError, ValueError) as exc:
            problems.append(Problem("invalid_setting", f"{exc}.", "settings.recipients"))
        return problems

    # --- publishing ----------------------------------------------------------------------

    def _post_record(self, post: Post, channel: ChannelContext, key: str) -> dict[str, Any]:
        record = super()._post_record(post, channel, key)
        try:
            total = recipients_of(channel)
        except (TypeError, ValueError) as exc:
            raise PermanentError(
                "The sandbox email list's recipients setting is invalid.",
                code="invalid_setting",
                detail=exc,
            ) from exc
        record["recipients"] = total
        record["recipients_per_variant"] = {}
        if post.variants:
            seed = split_seed(post, key)
            record["split_seed"] = seed
            record["recipients_per_variant"] = split_counts(
                split_recipients(range(total), post.variants, seed)
            )
            record["messages"] = {
                variant: {
                    "body": message.body,
                    "links": list(message.links),
                    "cta": None if message.cta is None else dataclasses.asdict(message.cta),
                }
                for variant, message in variant_posts(post).items()
            }
        return record

    @staticmethod
    def _result(record: dict[str, Any]) -> PublishResult:
        return PublishResult(
            record["external_id"],
            record["url"],
            datetime.fromisoformat(record["published_at"]),
            record.get("recipients_per_variant") or {},
        )

    def delete(self, ref: PublicationRef, channel: ChannelContext) -> None:
        # A sent email cannot be recalled.
        Network.delete(self, ref, channel)

    # --- metrics -------------------------------------------------------------------------

    def fetch_metrics(self, ref: PublicationRef, channel: ChannelContext) -> MetricSnapshot:
        now = self._clock()
        with self._log(channel) as (handle, log):
            post = log.posts_by_id.get(ref.external_id)
            if post is None:
                raise PermanentError("The sandbox has no such post.", code="not_found")
            elapsed = (now - datetime.fromisoformat(post["published_at"])).total_seconds()
            identity = ref.publication_id or post["post"].get("publication_id") or ref.external_id
            groups = post.get("recipients_per_variant") or {
                ref.variant_key or post["post"].get("variant_key", ""): post.get(
                    "recipients", recipients_of(channel)
                )
            }
            per_variant: dict[str, dict[str, int]] = {}
            for variant, recipients in groups.items():
                try:
                    model = EngagementModel.from_settings(channel.settings, variant)
                except (TypeError, ValueError, AttributeError) as exc:
                    raise PermanentError(
                        "The sandbox engagement settings are invalid.", detail=exc
                    ) from exc
                model = dataclasses.replace(model, audience=int(recipients))
                counts = simulate(model, elapsed, channel.id, identity, variant)
                per_variant[variant] = {
                    "recipients": int(recipients),
                    "impressions": counts.impressions,
                    "clicks": counts.clicks,
                    "conversions": counts.conversions,
                }
            totals = {
                name: sum(v[name] for v in per_variant.values())
                for name in ("impressions", "clicks", "conversions")
            }
            log.append(
                handle,
                {
                    "type": "metrics",
                    "external_id": ref.external_id,
                    "at": now.isoformat(),
                    "per_variant": per_variant,
                    "totals": totals,
                },
            )
        return MetricSnapshot(**totals, collected_at=now)
