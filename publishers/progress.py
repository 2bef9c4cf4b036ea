"""What a delivery has already done, so a retry continues instead of starting over.

A thread goes out part by part and a post's media are uploaded before it. If the worker dies,
or the network fails, after part 2 of 4, the next attempt must post part 3 - never part 1
again - and attach the media uploaded last time instead of uploading them twice. The pipeline
asks a :class:`DeliveryProgress` before each step and tells it after each; the host keeps it
with the publication (and writes it before the next network call), plugins never see it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from publishers.values import MediaRef, PublishResult

__all__ = ["Checkpoint", "DeliveryProgress", "MediaLoader", "MemoryProgress"]

#: Reads a medium's bytes for :meth:`publishers.Network.upload_media`. The host supplies one that
#: reads its own storage; :func:`publishers.media.fetch_media` fetches remote URLs.
MediaLoader = Callable[[MediaRef], bytes]


@runtime_checkable
class DeliveryProgress(Protocol):
    """The steps of one publication that have been done, across attempts."""

    def part(self, index: int) -> PublishResult | None:
        """The result of thread part ``index`` (0 is the first post), if it went out."""

    def record_part(self, index: int, result: PublishResult) -> None:
        """Remember that part ``index`` went out. Must be durable before it returns: the next
        network call may be the last thing this process does."""

    def uploaded(self, key: str) -> str | None:
        """The network's id for the medium ``key`` (:attr:`MediaRef.key`), if uploaded."""

    def record_upload(self, key: str, network_id: str) -> None:
        """Remember an upload (durably, as :meth:`record_part`)."""


class MemoryProgress:
    """Progress kept in memory: for one attempt with no store, and for tests."""

    def __init__(self) -> None:
        self.parts: dict[int, PublishResult] = {}
        self.uploads: dict[str, str] = {}

    def part(self, index: int) -> PublishResult | None:
        return self.parts.get(index)

    def record_part(self, index: int, result: PublishResult) -> None:
        self.parts[index] = result

    def uploaded(self, key: str) -> str | None:
        return self.uploads.get(key)

    def record_upload(self, key: str, network_id: str) -> None:
        self.uploads[key] = network_id


class Checkpoint:
    """Steps of one post a network must not repeat on the next attempt, kept durably by the host.

    A network whose publishing takes several calls with a wait in between (Instagram: create a
    container, wait until it is processed, publish it) declares a keyword parameter
    ``checkpoint`` on :meth:`~publishers.Network.publish`. It records each id the moment it has
    it (``checkpoint.set("container", id)``) and reads it on the next attempt, so a retry - or the
    attempt after a crash - continues instead of starting over, and a worker never sits idle
    waiting: the network raises :class:`~publishers.TransientError` with ``retry_after`` and the
    host comes back later. Values are short strings; each thread part has its own checkpoint.
    """

    def __init__(self, progress: DeliveryProgress, part_index: int = 0) -> None:
        self._progress = progress
        self._prefix = f"checkpoint:{part_index}:"

    def get(self, name: str) -> str | None:
        """The value recorded under ``name`` by an earlier step, or ``None``."""
        return self._progress.uploaded(self._prefix + name) or None

    def set(self, name: str, value: str) -> None:
        """Record ``value`` under ``name``, durably, before the next network call."""
        self._progress.record_upload(self._prefix + name, value)
