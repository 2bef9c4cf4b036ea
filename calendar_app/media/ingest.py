"""Checking and storing an upload.

The type a browser declares is a guess (and a hostile client's lie), so Kairos reads the bytes:
pictures must decode with Pillow (which also gives their size in pixels), videos must carry their
container's signature. Anything else is refused with a message saying what is accepted. The
checksum lets an integrator see that the file stored is the file sent.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from PIL import Image, UnidentifiedImageError

from calendar_app.media.models import MediaAsset
from calendar_app.models import Workspace

__all__ = ["ACCEPTED_TYPES", "Sniffed", "sniff", "store_upload"]

_PILLOW_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
ACCEPTED_TYPES = (*_PILLOW_TYPES.values(), "video/mp4", "video/quicktime", "video/webm")
_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
}
# Pictures larger than this many pixels are refused before decoding (a "decompression bomb").
MAX_PIXELS = 60_000_000


@dataclass(frozen=True)
class Sniffed:
    mime_type: str
    width: int | None = None
    height: int | None = None


def sniff(head: bytes, stream: IO[bytes]) -> Sniffed:
    """What the bytes are. ``head`` is the first 64 bytes; ``stream`` the whole file.

    :raises ValidationError: (code ``unsupported_media_type``) for anything not accepted.
    """
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        return Sniffed("video/quicktime" if brand == b"qt  " else "video/mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Sniffed("video/webm")
    stream.seek(0)
    try:
        with Image.open(stream) as image:
            if image.format not in _PILLOW_TYPES:
                raise _unsupported()
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ValidationError(
                    f"The picture is {width}x{height} pixels; at most {MAX_PIXELS:,} are accepted.",
                    code="media_too_large",
                )
            image.verify()
            return Sniffed(_PILLOW_TYPES[image.format], width, height)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise _unsupported() from None


def _unsupported() -> ValidationError:
    names = ", ".join(sorted(_EXTENSIONS[t].upper() for t in ACCEPTED_TYPES))
    return ValidationError(
        f"This file is not a picture or video Kairos accepts ({names}).",
        code="unsupported_media_type",
    )


def store_upload(
    workspace: Workspace, upload: IO[bytes], *, name: str = "", alt_text: str = ""
) -> MediaAsset:
    """Check ``upload`` and keep it as a :class:`MediaAsset` of ``workspace``.

    :raises ValidationError: the file is empty, too large or not an accepted type.
    """
    cap = settings.KAIROS_MEDIA_MAX_BYTES
    digest = hashlib.sha256()
    size = 0
    head = b""
    buffer = io.BytesIO()
    upload.seek(0)
    while chunk := upload.read(1024 * 1024):
        if not head:
            head = chunk[:64]
        size += len(chunk)
        if size > cap:
            raise ValidationError(
                f"The file is larger than the {cap:,} bytes allowed.", code="media_too_large"
            )
        digest.update(chunk)
        buffer.write(chunk)
    if size == 0:
        raise ValidationError("The file is empty.", code="empty_file")
    found = sniff(head, buffer)
    asset = MediaAsset(
        workspace=workspace,
        original_name=(name or "")[:255],
        mime_type=found.mime_type,
        size=size,
        sha256=digest.hexdigest(),
        width=found.width,
        height=found.height,
        alt_text=alt_text,
    )
    asset.file.save(
        f"upload.{_EXTENSIONS[found.mime_type]}", ContentFile(buffer.getvalue()), save=False
    )
    asset.save()
    return asset
