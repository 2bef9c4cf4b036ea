"""Delivery, as the pipeline recorded it: publications, their attempts and their metrics."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from calendar_app.admin.base import ReadOnlyAdmin, ReadOnlyTabular, RelatedOnly, local_time
from calendar_app.delivery.links import safe_link
from calendar_app.models import DeliveryAttempt, MetricSnapshot, Publication, WorkerHeartbeat


class DeliveryAttemptInline(ReadOnlyTabular):
    model = DeliveryAttempt
    fields = ("number", "worker", "started_at", "finished_at", "outcome", "error_code", "reason")
    show_change_link = False


class MetricSnapshotInline(ReadOnlyTabular):
    model = MetricSnapshot
    fields = (
        "collected_at",
        "impressions",
        "clicks",
        "reactions",
        "shares",
        "replies",
        "conversions",
    )
    show_change_link = False


@admin.register(Publication)
class PublicationAdmin(ReadOnlyAdmin):
    """Publications are created by scheduling and moved by the pipeline: read-only here."""

    list_display = (
        "id",
        "content_item",
        "channel",
        "variant",
        "status",
        "local_due",
        "attempts",
        "local_published",
        "delivered_late",
        "link",
    )
    list_filter = ("status", "delivered_late", "channel__network", ("channel", RelatedOnly))
    search_fields = ("content_item__title", "channel__handle", "external_id", "idempotency_key")
    date_hierarchy = "due_at"
    list_select_related = ("content_item", "channel__brand", "variant")
    readonly_fields = ("local_due",)
    inlines = [DeliveryAttemptInline, MetricSnapshotInline]

    @admin.display(description="due (brand's time)", ordering="due_at")
    def local_due(self, obj: Publication) -> str:
        """Brands of one workspace may live in different zones: each row names its own."""
        return local_time(obj.due_at, obj.channel.brand.time_zone)

    @admin.display(description="published (brand's time)", ordering="published_at")
    def local_published(self, obj: Publication) -> str:
        return local_time(obj.published_at, obj.channel.brand.time_zone)

    @admin.display(description="post")
    def link(self, obj: Publication) -> str:
        url = safe_link(obj.external_url)  # rows stored before links were checked, too
        return (
            format_html('<a href="{}" rel="noopener noreferrer" target="_blank">open</a>', url)
            if url
            else "—"
        )


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = (
        "publication",
        "number",
        "outcome",
        "error_code",
        "worker",
        "started_at",
        "finished_at",
    )
    list_filter = ("outcome",)
    search_fields = ("publication__content_item__title", "error_code", "reason")
    date_hierarchy = "started_at"
    list_select_related = ("publication__channel__brand",)


@admin.register(MetricSnapshot)
class MetricSnapshotAdmin(ReadOnlyAdmin):
    list_display = (
        "publication",
        "collected_at",
        "impressions",
        "clicks",
        "reactions",
        "shares",
        "replies",
        "conversions",
    )
    search_fields = ("publication__content_item__title",)
    date_hierarchy = "collected_at"
    list_select_related = ("publication__channel__brand",)


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    """Operations data, no tenant: superusers only."""

    list_display = ("name", "role", "beat_at", "pid")
    search_fields = ("name",)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: WorkerHeartbeat | None = None) -> bool:
        return request.user.is_superuser
