"""The public address of a stored medium, ``/m/<token>``: what a network fetches.

No login (a network's fetcher has none); the token is the capability, 32 random characters, as
for tracked links and calendar feeds. Served with its sniffed type, ``nosniff`` and a long cache
lifetime: a stored medium never changes.
"""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_safe

from calendar_app.media.models import MediaAsset

__all__ = ["media_file"]


@require_safe
def media_file(request: HttpRequest, token: str) -> FileResponse:
    asset = MediaAsset.objects.filter(token=token).only("file", "mime_type", "size").first()
    if asset is None:
        raise Http404("No such medium.")
    try:
        handle = asset.file.open("rb")
    except FileNotFoundError:
        raise Http404("The medium's file is gone.") from None
    response = FileResponse(handle, content_type=asset.mime_type)
    response["Content-Length"] = str(asset.size)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
