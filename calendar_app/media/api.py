"""The REST side of media: the ``media`` resource (upload, list, alt text, delete) and the fields
an item uses to refer to media and to carry a thread."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.parsers import MultiPartParser

from calendar_app.api.etag import ETagMixin
from calendar_app.api.parsers import LimitedJSONParser
from calendar_app.api.serializers.common import KairosModelSerializer
from calendar_app.api.serializers.strict import KairosSerializer
from calendar_app.api.views.base import AtomicMixin, WorkspaceScopedMixin
from calendar_app.media.entries import (
    MAX_ALT_TEXT,
    asset_ids,
    normalise_entries,
    normalise_thread,
)
from calendar_app.media.ingest import ACCEPTED_TYPES, store_upload
from calendar_app.media.models import MediaAsset
from calendar_app.media.refs import check_assets, public_url
from calendar_app.models import ContentItem, Role

__all__ = ["MediaAssetSerializer", "MediaAssetViewSet", "MediaEntriesField", "ThreadField"]


class MediaEntrySerializer(KairosSerializer):
    """One medium of an item (documentation only: the field parses entries itself)."""

    asset = serializers.IntegerField(
        required=False, help_text="Id of a stored medium (see media/)."
    )
    url = serializers.URLField(
        required=False, help_text="Or a medium kept elsewhere, fetched at delivery."
    )
    alt_text = serializers.CharField(required=False, max_length=MAX_ALT_TEXT)


class ThreadPartSerializer(KairosSerializer):
    """One later part of a thread (documentation only)."""

    body = serializers.CharField(max_length=10_000)
    media = MediaEntrySerializer(many=True, required=False)


def _entry() -> serializers.Serializer:
    return MediaEntrySerializer()


def _workspace_id(field: serializers.Field) -> int | None:
    request = field.context.get("request")
    workspace = getattr(request, "workspace", None)
    return getattr(workspace, "pk", None)


@extend_schema_field(serializers.ListField(child=_entry(), max_length=20))
class MediaEntriesField(serializers.JSONField):
    """A list of media entries; stored media must be the workspace's own (an unknown id and
    another workspace's id get the same answer)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[dict[str, Any]]:
        try:
            entries = normalise_entries(data, self.field_name or "media")
            workspace = _workspace_id(self)
            if workspace is not None:
                check_assets(asset_ids(entries), workspace)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        return entries


@extend_schema_field(serializers.ListField(child=ThreadPartSerializer(), max_length=24))
class ThreadField(serializers.JSONField):
    """The later parts of a thread (the item's own body is part 1)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[dict[str, Any]]:
        try:
            parts = normalise_thread(data)
            workspace = _workspace_id(self)
            if workspace is not None:
                check_assets(asset_ids(e for p in parts for e in p["media"]), workspace)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        return parts


class MediaAssetSerializer(KairosModelSerializer):
    file = serializers.FileField(
        write_only=True,
        help_text=f"The picture or video ({', '.join(ACCEPTED_TYPES)}); multipart/form-data.",
    )
    url = serializers.SerializerMethodField(help_text="Where networks fetch it.")

    class Meta:
        model = MediaAsset
        fields = [
            "id",
            "file",
            "url",
            "original_name",
            "mime_type",
            "size",
            "sha256",
            "width",
            "height",
            "alt_text",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "url",
            "original_name",
            "mime_type",
            "size",
            "sha256",
            "width",
            "height",
            "created_at",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance is not None:  # the file of a stored medium never changes
            self.fields["file"].read_only = True
            self.fields["file"].required = False

    def get_url(self, asset: MediaAsset) -> str:
        return public_url(asset)

    def create(self, validated_data: dict[str, Any]) -> MediaAsset:
        upload = validated_data["file"]
        try:
            return store_upload(
                self.context["request"].workspace,
                upload,
                name=getattr(upload, "name", "") or "",
                alt_text=validated_data.get("alt_text", ""),
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"file": exc.messages}) from None


@extend_schema(tags=["media"])
@extend_schema_view(
    create=extend_schema(request={"multipart/form-data": MediaAssetSerializer}),
    update=extend_schema(request={"application/json": MediaAssetSerializer}),
    partial_update=extend_schema(request={"application/json": MediaAssetSerializer}),
)
class MediaAssetViewSet(
    ETagMixin,
    AtomicMixin,
    WorkspaceScopedMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Pictures and videos stored by Kairos. Upload with ``multipart/form-data`` (``file``,
    optional ``alt_text``); attach to items as ``{"asset": id}`` in ``media``. A medium an item
    still refers to cannot be deleted."""

    model = MediaAsset
    serializer_class = MediaAssetSerializer
    #: upload with multipart; change ``alt_text`` with JSON
    parser_classes = [MultiPartParser, LimitedJSONParser]
    write_permission = Role.EDITOR

    def perform_destroy(self, instance: MediaAsset) -> None:
        if items_using(instance):
            raise serializers.ValidationError(
                {"id": ["Items still use this medium; remove it from them first."]}
            )
        instance.file.delete(save=False)
        instance.delete()


def items_using(asset: MediaAsset) -> list[int]:
    """Ids of the workspace's items whose media or thread refer to ``asset``.

    JSON containment is not portable between SQLite and PostgreSQL, and deleting a medium is
    rare: read the media columns of the items that have any, and look."""
    rows = (
        ContentItem.objects.filter(workspace=asset.workspace_id)
        .exclude(media=[], thread=[])
        .values_list("pk", "media", "thread")
    )
    using = []
    for pk, media, thread in rows.iterator(chunk_size=2000):
        entries = list(media or []) + [
            e for part in thread or [] if isinstance(part, dict) for e in part.get("media") or []
        ]
        if any(isinstance(e, dict) and e.get("asset") == asset.pk for e in entries):
            using.append(pk)
    return using
