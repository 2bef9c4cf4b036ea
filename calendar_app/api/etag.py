"""ETag on reads, If-Match on writes, for every resource that can be changed (every
:class:`~calendar_app.api.views.base.WorkspaceViewSet`).

Two people open the same post; the second save must not silently undo the first. Reads return an
``ETag``; a write that sends ``If-Match`` with an older one is refused with 412. The tag covers
the version and ``updated_at``, so a status change (approve, schedule) also makes it stale.
"""

from __future__ import annotations

import hashlib

from django.db.models import Model
from rest_framework.request import Request
from rest_framework.response import Response

from calendar_app.api.exceptions import PreconditionFailed


def etag_for(obj: Model) -> str:
    """A strong validator: changes whenever the row is saved."""
    stamp = f"{obj._meta.label}:{obj.pk}:{getattr(obj, 'version', '')}:{obj.updated_at.isoformat()}"
    return '"' + hashlib.sha256(stamp.encode()).hexdigest()[:32] + '"'


def _tags(header: str) -> set[str]:
    return {part.strip().removeprefix("W/") for part in header.split(",") if part.strip()}


def check_if_match(request: Request, obj: Model) -> None:
    """Raise 412 when the request's ``If-Match`` names another version of ``obj``."""
    header = request.headers.get("If-Match")
    if not header or header.strip() == "*":
        return
    if etag_for(obj) not in _tags(header):
        raise PreconditionFailed()


def not_modified(request: Request, obj: Model) -> bool:
    header = request.headers.get("If-None-Match")
    return bool(header) and (header.strip() == "*" or etag_for(obj) in _tags(header))


class ETagMixin:
    """For a viewset: tag detail responses, answer 304, and lock-and-check before any write.

    ``get_object`` locks the row for unsafe methods (the view runs in a transaction), so the
    If-Match comparison and the write see the same version.
    """

    def get_object(self):
        obj = super().get_object()
        if self.request.method not in ("GET", "HEAD", "OPTIONS"):
            obj = type(obj).objects.select_for_update(of=("self",)).get(pk=obj.pk)
            check_if_match(self.request, obj)
        return obj

    def finalize_response(self, request: Request, response: Response, *args, **kwargs) -> Response:
        obj = getattr(self, "_etag_object", None)
        if obj is not None and (200 <= response.status_code < 300 or response.status_code == 304):
            response["ETag"] = etag_for(obj)
        return super().finalize_response(request, response, *args, **kwargs)

    def perform_create(self, serializer) -> None:
        super().perform_create(serializer)
        self.tag(serializer.instance)

    def perform_update(self, serializer) -> None:
        super().perform_update(serializer)
        self.tag(serializer.instance)

    def tag(self, obj: Model) -> Model:
        """Mark ``obj`` as the resource whose ETag goes on the response."""
        self._etag_object = obj
        return obj

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        obj = self.tag(self.get_object())
        if not_modified(request, obj):
            return Response(status=304)
        return Response(self.get_serializer(obj).data)
