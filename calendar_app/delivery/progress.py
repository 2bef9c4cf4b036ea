"""A publication's progress kept in its row, so the next attempt continues where this one stopped.

The pipeline records each thread part and each media upload the moment the network confirms it,
before its next network call. Writing it here, in the publication row, makes it durable across a
killed worker: the attempt that picks the row up again posts part 3, never part 1 again, and
attaches the media uploaded last time.
"""

from __future__ import annotations

from typing import Any

from calendar_app.delivery.dbretry import with_db_retries
from calendar_app.models import Publication
from publishers import PublishResult

__all__ = ["StoredProgress", "thread_results"]


class StoredProgress:
    """:class:`publishers.progress.DeliveryProgress` backed by ``Publication.progress``."""

    def __init__(self, publication: Publication) -> None:
        self.publication = publication
        data = publication.progress if isinstance(publication.progress, dict) else {}
        self.data: dict[str, Any] = {
            "parts": dict(data.get("parts") or {}),
            "media": dict(data.get("media") or {}),
        }

    def part(self, index: int) -> PublishResult | None:
        raw = self.data["parts"].get(str(index))
        return None if raw is None else PublishResult.from_dict(raw)

    def record_part(self, index: int, result: PublishResult) -> None:
        self.data["parts"][str(index)] = result.to_dict()
        self._save()

    def uploaded(self, key: str) -> str | None:
        return self.data["media"].get(key)

    def record_upload(self, key: str, network_id: str) -> None:
        self.data["media"][key] = network_id
        self._save()

    def _save(self) -> None:
        snapshot = {"parts": dict(self.data["parts"]), "media": dict(self.data["media"])}
        with_db_retries(
            "recording delivery progress",
            lambda: Publication.objects.filter(pk=self.publication.pk).update(progress=snapshot),
        )
        self.publication.progress = snapshot


def thread_results(publication: Publication) -> tuple[PublishResult, ...]:
    """The later parts of a delivered thread, in order (empty for a single post)."""
    parts = (publication.progress or {}).get("parts") or {}
    return tuple(
        PublishResult.from_dict(parts[key]) for key in sorted(parts, key=int) if key != "0"
    )
