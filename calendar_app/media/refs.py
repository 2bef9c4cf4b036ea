"""Media entries of an item, and the :class:`publishers.MediaRef` each becomes at delivery.

An item's ``media`` (and each thread part's) is a list of entries, each one of:

* ``{"asset": 12, "alt_text": "..."}`` - a medium stored by Kairos (``alt_text`` optional: the
  asset's own is used when absent);
* ``{"url": "https://...", "alt_text": "..."}`` - a medium kept elsewhere, fetched at delivery;
* ``"https://..."`` - the short form of the above, as in the first release.

The shape is checked wherever an item is written (model, API, admin); that an asset belongs to
the item's workspace is checked where the workspace is known (:func:`check_assets`).
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from calendar_app.media.entries import parse_entry
from calendar_app.media.models import MediaAsset
from publishers import MediaRef
from publishers.media import fetch_media

__all__ = ["check_assets", "media_loader", "media_refs", "public_url"]

_TOKEN_PATH = re.compile(r"/m/([A-Za-z0-9_-]{16,64})$")


def check_assets(ids: set[int], workspace_id: int) -> None:
    """Refuse asset ids that are not media of ``workspace_id`` (unknown and foreign alike:
    the message must not tell another workspace's ids from ids that do not exist)."""
    if not ids:
        return
    found = set(
        MediaAsset.objects.filter(workspace_id=workspace_id, pk__in=ids).values_list(
            "pk", flat=True
        )
    )
    missing = sorted(ids - found)
    if missing:
        raise ValidationError(
            f"No medium with id {', '.join(map(str, missing))} in this workspace.",
            code="unknown_media",
        )


def public_url(asset: MediaAsset) -> str:
    """Where networks fetch a stored medium."""
    return f"{settings.KAIROS_PUBLIC_BASE_URL.rstrip('/')}/m/{asset.token}"


def media_refs(
    entries: Sequence[Any], assets: dict[int, MediaAsset], part: int = 0
) -> tuple[MediaRef, ...]:
    """The entries as the values a network receives (``assets`` preloaded by id)."""
    refs = []
    for position, raw in enumerate(entries or ()):
        entry = parse_entry(raw, "media")
        key = f"{part}.{position}"
        if "asset" in entry:
            asset = assets.get(entry["asset"])
            if asset is None:  # deleted since approval: say which, at delivery
                raise ValidationError(
                    f"Medium {entry['asset']} no longer exists.", code="unknown_media"
                )
            refs.append(
                MediaRef(
                    url=public_url(asset),
                    mime_type=asset.mime_type,
                    size=asset.size,
                    alt_text=entry.get("alt_text") or asset.alt_text,
                    sha256=asset.sha256,
                    name=asset.original_name,
                    key=key,
                )
            )
        else:
            guessed = mimetypes.guess_type(urlsplit(entry["url"]).path)[0] or ""
            refs.append(
                MediaRef(
                    url=entry["url"],
                    mime_type=guessed,
                    alt_text=entry.get("alt_text", ""),
                    key=key,
                )
            )
    return tuple(refs)


def media_loader(network: str, max_bytes: int | None = None) -> Callable[[MediaRef], bytes]:
    """Reads a medium for ``network``: stored media from Kairos' storage (never over HTTP to
    itself), others fetched under the network's address rules."""

    def load(media: MediaRef) -> bytes:
        match = _TOKEN_PATH.search(urlsplit(media.url).path)
        if match and media.url.startswith(settings.KAIROS_PUBLIC_BASE_URL.rstrip("/") + "/m/"):
            asset = MediaAsset.objects.filter(token=match.group(1)).first()
            if asset is not None:
                with asset.file.open("rb") as handle:
                    return handle.read()
        return fetch_media(media, network=network, max_bytes=max_bytes)

    return load
