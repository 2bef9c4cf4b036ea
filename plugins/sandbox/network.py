"""The sandbox network: a local destination for demos, tests and benchmarks.

Posts are appended as JSON lines to one file per channel, under the channel setting
``sandbox_dir``, else the environment variable ``KAIROS_SANDBOX_DIR``, else ``var/sandbox``
(relative to the working directory), so a person can ``tail -f`` what Kairos "posted". Records
are never rewritten: a deletion is a later ``delete`` record. Every check-then-append runs under
an exclusive ``fcntl`` lock on the file, so several worker processes can share a channel and an
idempotency key still yields exactly one post; each process keeps an index of the file and reads
only what was appended since (:mod:`plugins.sandbox.log`).

Channel settings may script failures, for demos and tests of the retry machinery: ``fail_mode``
is one of ``transient``, ``permanent``, ``expired``, ``timeout_after_send`` or ``crash`` (an
unexpected exception, i.e. a plugin bug); ``fail_times`` limits it to the first N attempts per
idempotency key (default: every attempt); ``retry_after`` is passed on with transient failures.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from plugins.sandbox.engagement import EngagementModel, simulate
from plugins.sandbox.listening import LISTENING_SETTINGS, SandboxConversation
from plugins.sandbox.log import ChannelLog
from publishers import (
    Capabilities,
    ChannelContext,
    CredentialsExpired,
    MessagePage,
    MetricSnapshot,
    Network,
    PermanentError,
    Post,
    Problem,
    PublicationRef,
    PublishResult,
    SettingField,
    TransientError,
    capability_problems,
)

__all__ = ["FAIL_MODES", "SandboxNetwork"]

FAIL_MODES = ("transient", "permanent", "expired", "timeout_after_send", "crash")
DEFAULT_DIR = "var/sandbox"
Clock = Callable[[], datetime]


DIRECTORY_SETTING = SettingField(
    "sandbox_dir", "Directory", "Where posts are written; default var/sandbox."
)
#: A pretend credential: the sandbox needs none, but a demo shows how Kairos keeps one (encrypted,
#: write-only, redacted from errors) exactly as it keeps a real network's token.
DEMO_TOKEN = SettingField(
    "token", "Token", "A pretend credential; the sandbox does not use it.", "secret"
)
#: Scripted failures, shared by every sandbox network (see the module docstring).
FAILURE_SETTINGS = (
    SettingField("fail_mode", "Scripted failure", f"One of {', '.join(FAIL_MODES)}."),
    SettingField("fail_times", "Failing attempts", "Fail only the first N attempts.", "integer"),
    SettingField("retry_after", "Retry-After", "Seconds, with transient failures.", "number"),
)


def engagement_settings(grows: str) -> tuple[SettingField, ...]:
    """The simulated-engagement settings; ``grows`` names what ramps up (impressions, opens)."""
    return (
        SettingField(
            "ramp_seconds", "Ramp", f"Time constant of {grows}, in seconds.", "number", default=3600
        ),
        SettingField("seed", "Seed", "Seed of the simulated engagement.", "integer", default=0),
        SettingField("rates", "Rates", "True rates: ctr, cvr, reaction_rate, ...", "json"),
        SettingField("variant_rates", "Rates per variant", "Variant key -> rates.", "json"),
    )


def _now() -> datetime:
    return datetime.now(UTC)


class SandboxNetwork(Network):
    """Stores posts in local files and simulates their engagement.

    :param clock: returns the current aware time; tests inject one to move time forward.
    """

    key = "sandbox"
    display_name = "Sandbox (local files)"
    capabilities = Capabilities(
        max_text_length=5000,
        max_links=10,
        supports_media=True,
        supports_links=True,
        supports_threads=True,
        supports_idempotency_key=True,
        can_find_existing=True,
        can_delete=True,
        metrics=("impressions", "clicks", "reactions", "shares", "replies", "conversions"),
        per_recipient_split=False,
        max_media=10,
        max_thread_parts=25,
        listening=("replies", "mentions", "search"),
    )
    settings_schema = (
        DIRECTORY_SETTING,
        SettingField("audience", "Audience", "People who can see a post.", "integer", default=1000),
        *engagement_settings("impressions"),
        *FAILURE_SETTINGS,
        *LISTENING_SETTINGS,
    )

    secret_fields = (DEMO_TOKEN,)

    def __init__(self, *, clock: Clock = _now) -> None:
        self._clock = clock
        self._logs: dict[Path, ChannelLog] = {}
        self._logs_lock = threading.Lock()

    # --- storage -----------------------------------------------------------------------------

    def path_for(self, channel: ChannelContext) -> Path:
        """The JSON-lines file holding ``channel``'s posts."""
        directory = channel.settings.get("sandbox_dir") or os.environ.get(
            "KAIROS_SANDBOX_DIR", DEFAULT_DIR
        )
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", channel.id) or "channel"
        return Path(directory) / f"{safe}.jsonl"

    @contextlib.contextmanager
    def _locked(self, channel: ChannelContext) -> Iterator[IO[bytes]]:
        path = self.path_for(channel)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = path.open("a+b")
        except OSError as exc:
            raise PermanentError(
                f"The sandbox cannot write to {path.parent}.", code="sandbox_unwritable", detail=exc
            ) from exc
        with handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield handle
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    @staticmethod
    def _read(handle: IO[bytes]) -> list[dict[str, Any]]:
        handle.seek(0)
        return [json.loads(line) for line in handle if line.strip()]

    @contextlib.contextmanager
    def _log(self, channel: ChannelContext) -> Iterator[tuple[IO[bytes], ChannelLog]]:
        """The channel's file, locked, with this process's index of it caught up."""
        path = self.path_for(channel).absolute()
        with self._logs_lock:
            log = self._logs.setdefault(path, ChannelLog())
        with self._locked(channel) as handle, log.lock:
            yield handle, log.catch_up(handle)

    def records(self, channel: ChannelContext) -> list[dict[str, Any]]:
        """Every record of ``channel`` (posts, deletions, failures), oldest first."""
        if not self.path_for(channel).exists():
            return []
        with self._locked(channel) as handle:
            return self._read(handle)

    def posts(self, channel: ChannelContext) -> list[dict[str, Any]]:
        """The posts of ``channel`` that were not deleted, oldest first."""
        records = self.records(channel)
        deleted = {r["external_id"] for r in records if r["type"] == "delete"}
        return [r for r in records if r["type"] == "post" and r["external_id"] not in deleted]

    @staticmethod
    def _result(record: dict[str, Any]) -> PublishResult:
        return PublishResult(
            record["external_id"], record["url"], datetime.fromisoformat(record["published_at"])
        )

    # --- the Network contract ----------------------------------------------------------------

    def validate(self, post: Post, channel: ChannelContext) -> list[Problem]:
        problems = capability_problems(post, self.capabilities)
        return problems + self._settings_problems(channel)

    def _settings_problems(self, channel: ChannelContext) -> list[Problem]:
        problems = []
        mode = channel.settings.get("fail_mode")
        if mode not in (None, "", *FAIL_MODES):
            problems.append(
                Problem(
                    "invalid_setting",
                    f"fail_mode must be one of {FAIL_MODES}.",
                    "settings.fail_mode",
                )
            )
        try:
            EngagementModel.from_settings(channel.settings)
        except (TypeError, ValueError, AttributeError) as exc:
            problems.append(Problem("invalid_setting", f"Engagement settings: {exc}.", "settings"))
        return problems

    def publish(self, post: Post, channel: ChannelContext, idempotency_key: str) -> PublishResult:
        mode = channel.settings.get("fail_mode") or None
        with self._log(channel) as (handle, log):
            existing = log.live(idempotency_key)
            if existing is not None:
                return self._result(existing)
            failing = bool(mode) and self._should_fail(log, channel, idempotency_key)
            if failing:
                log.append(handle, self._failure(mode, idempotency_key))
                if mode != "timeout_after_send":
                    self._raise(mode, channel)
            record = self._post_record(post, channel, idempotency_key)
            log.append(handle, record)
        if failing:
            raise TransientError(
                "The sandbox timed out after the post was sent (scripted).",
                code="timeout",
                may_have_posted=True,
            )
        return self._result(record)

    @staticmethod
    def _should_fail(log: ChannelLog, channel: ChannelContext, key: str) -> bool:
        limit = channel.settings.get("fail_times")
        return limit is None or log.failures[key] < int(limit)

    def _failure(self, mode: str, key: str) -> dict[str, Any]:
        return {
            "type": "failure",
            "mode": mode,
            "idempotency_key": key,
            "at": self._clock().isoformat(),
        }

    @staticmethod
    def _raise(mode: str, channel: ChannelContext) -> None:
        if mode == "transient":
            retry_after = channel.settings.get("retry_after")
            raise TransientError(
                "The sandbox is unavailable (scripted).",
                code="sandbox_unavailable",
                retry_after=None if retry_after is None else float(retry_after),
            )
        if mode == "permanent":
            raise PermanentError("The sandbox refused the post (scripted).", code="sandbox_refused")
        if mode == "expired":
            raise CredentialsExpired("The sandbox channel's credentials expired (scripted).")
        raise RuntimeError("scripted sandbox crash")

    def _post_record(self, post: Post, channel: ChannelContext, key: str) -> dict[str, Any]:
        external_id = f"sb_{uuid.uuid4().hex[:20]}"
        path = self.path_for(channel).resolve()
        return {
            "type": "post",
            "external_id": external_id,
            "idempotency_key": key,
            "published_at": self._clock().isoformat(),
            "url": f"{path.as_uri()}#{external_id}",
            "channel_id": channel.id,
            "handle": channel.handle,
            "post": post.to_dict(),
        }

    def find_existing(self, idempotency_key: str, channel: ChannelContext) -> PublishResult | None:
        with self._log(channel) as (_, log):
            record = log.live(idempotency_key)
        return None if record is None else self._result(record)

    def delete(self, ref: PublicationRef, channel: ChannelContext) -> None:
        """Delete the post, and every later part when it opened a thread."""
        with self._log(channel) as (handle, log):
            if ref.external_id not in log.posts_by_id:
                raise PermanentError("The sandbox has no such post.", code="not_found")
            for external_id in (ref.external_id, *(p.external_id for p in ref.thread)):
                if external_id in log.deleted_at or external_id not in log.posts_by_id:
                    continue
                record = {
                    "type": "delete",
                    "external_id": external_id,
                    "at": self._clock().isoformat(),
                }
                log.append(handle, record)

    def fetch_metrics(self, ref: PublicationRef, channel: ChannelContext) -> MetricSnapshot:
        with self._log(channel) as (_, log):
            post = log.posts_by_id.get(ref.external_id)
            deleted = log.deleted_at.get(ref.external_id)
        if post is None:
            raise PermanentError("The sandbox has no such post.", code="not_found")
        now = self._clock()
        until = min(now, datetime.fromisoformat(deleted)) if deleted else now
        elapsed = (until - datetime.fromisoformat(post["published_at"])).total_seconds()
        variant = ref.variant_key or post["post"].get("variant_key", "")
        try:
            model = EngagementModel.from_settings(channel.settings, variant)
        except (TypeError, ValueError, AttributeError) as exc:
            raise PermanentError(
                "The sandbox engagement settings are invalid.", detail=exc
            ) from exc
        identity = ref.publication_id or post["post"].get("publication_id") or ref.external_id
        counts = simulate(model, elapsed, channel.id, identity, variant)
        return MetricSnapshot(
            impressions=counts.impressions,
            clicks=counts.clicks,
            reactions=counts.reactions,
            shares=counts.shares,
            replies=counts.replies,
            conversions=counts.conversions,
            collected_at=now,
        )

    # --- listening: a seeded conversation (plugins/sandbox/listening.py) -------------------

    def _conversation(self, channel: ChannelContext) -> SandboxConversation:
        return SandboxConversation(channel.id, channel.handle, channel.settings)

    def fetch_replies(
        self, channel: ChannelContext, cursor: str, posts: Sequence[PublicationRef]
    ) -> MessagePage:
        now = self._clock()
        conversation = self._conversation(channel)
        since = conversation.since(cursor, now)
        wanted = {ref.external_id for ref in posts if ref.external_id}
        with self._log(channel) as (_, log):
            sent = {i: log.posts_by_id[i] for i in wanted if i in log.posts_by_id}
        messages = [
            message
            for external_id, record in sent.items()
            for message in conversation.replies(
                external_id, datetime.fromisoformat(record["published_at"]), since, now
            )
        ]
        return conversation.page(messages, now)

    def fetch_mentions(self, channel: ChannelContext, cursor: str) -> MessagePage:
        now = self._clock()
        conversation = self._conversation(channel)
        since = conversation.since(cursor, now)
        term = channel.handle or "sandbox"
        return conversation.page(list(conversation.stream("mentions", term, since, now)), now)

    def search_posts(
        self, channel: ChannelContext, terms: Sequence[str], cursor: str
    ) -> MessagePage:
        now = self._clock()
        conversation = self._conversation(channel)
        since = conversation.since(cursor, now)
        terms = [t for t in terms if t.strip()]
        if not terms:
            return MessagePage((), now.isoformat())
        key = conversation.search_key(terms)
        # Each match names one of the terms, so the host's own matching agrees with the network.
        term = sorted(terms)[0]
        return conversation.page(list(conversation.stream(key, term, since, now)), now)

    def test_connection(self, channel: ChannelContext) -> list[Problem]:
        problems = super().test_connection(channel) + self._settings_problems(channel)
        directory = self.path_for(channel).parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
            writable = os.access(directory, os.W_OK)
        except OSError:
            writable = False
        if not writable:
            problems.append(
                Problem(
                    "sandbox_unwritable", f"Cannot write to {directory}.", "settings.sandbox_dir"
                )
            )
        return problems
