"""Outbound webhooks: subscriptions (the secret is never displayed: shown once in a message at
creation and rotation) and the delivery log (read-only, with a replay action)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from calendar_app.admin.base import (
    WORKSPACE_PATHS,
    ReadOnlyAdmin,
    ReadOnlyTabular,
    RelatedOnly,
    TenantAdmin,
)
from calendar_app.models import (
    Role,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from calendar_app.outbound import sender
from calendar_app.workflow import Actor

# Attempts reach their workspace through their delivery (the default path is "workspace").
WORKSPACE_PATHS.setdefault(WebhookAttempt, "delivery__workspace")
WORKSPACE_PATHS.setdefault(WebhookEvent, "workspace")

SECRET_WARNING = "Copy the signing secret now, it will not be shown again: {}"


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(TenantAdmin):
    list_display = ("__str__", "url", "workspace", "is_active", "event_type_list", "created_at")
    list_filter = ("is_active", ("workspace", RelatedOnly))
    search_fields = ("url", "description")
    autocomplete_fields = ("workspace",)
    filter_horizontal = ("brands",)
    list_select_related = ("workspace",)
    fields = (
        "workspace",
        "url",
        "description",
        "event_types",
        "brands",
        "is_active",
        "disabled_reason",
        "disabled_at",
        "created_by",
    )
    readonly_fields = ("disabled_reason", "disabled_at", "created_by")
    actions = ["rotate_secrets"]
    change_role = Role.ADMIN
    view_role = Role.ADMIN

    @admin.display(description="event types")
    def event_type_list(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.event_types) or "all"

    def save_model(
        self, request: HttpRequest, obj: WebhookSubscription, form, change: bool
    ) -> None:
        if not change:
            stored, clear = sender.new_secret_value()
            obj.secret = stored
            obj.created_by = request.user
            super().save_model(request, obj, form, change)
            messages.warning(request, SECRET_WARNING.format(clear))
            return
        if obj.is_active and "is_active" in form.changed_data:
            obj.disabled_reason, obj.disabled_at = "", None
        super().save_model(request, obj, form, change)

    @admin.action(description="Rotate the signing secret")
    def rotate_secrets(self, request: HttpRequest, queryset: QuerySet) -> None:
        for subscription in queryset.select_related("workspace"):
            actor = Actor.for_user(request.user, subscription.workspace)
            try:
                clear = sender.rotate_secret(subscription, actor)
            except sender.WebhookActionError as exc:
                messages.error(request, str(exc))
            else:
                messages.warning(request, f"“{subscription}”: " + SECRET_WARNING.format(clear))


class WebhookAttemptInline(ReadOnlyTabular):
    model = WebhookAttempt
    fields = ("number", "started_at", "duration_ms", "status_code", "outcome", "error")
    show_change_link = False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Written by the sender; people only look and replay."""

    list_display = (
        "id",
        "event_type",
        "event_id",
        "subscription",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status", "event__type", ("subscription", RelatedOnly))
    search_fields = ("event__event_id", "subscription__url", "last_error")
    date_hierarchy = "created_at"
    list_select_related = ("event", "subscription")
    readonly_fields = ("event_type", "event_id", "payload")
    inlines = [WebhookAttemptInline]
    actions = ["replay_deliveries"]
    view_role = Role.APPROVER

    @admin.display(description="event", ordering="event__type")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.type

    @admin.display(description="webhook-id")
    def event_id(self, obj: WebhookDelivery) -> str:
        return obj.event.event_id

    @admin.display(description="payload")
    def payload(self, obj: WebhookDelivery) -> dict:
        return obj.event.payload

    @admin.action(description="Replay (send the event again, same webhook-id)")
    def replay_deliveries(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for delivery in queryset.select_related("subscription", "workspace"):
            actor = Actor.for_user(request.user, delivery.workspace)
            try:
                sender.replay(delivery, actor)
            except sender.WebhookActionError as exc:
                messages.error(request, f"Delivery #{delivery.pk}: {exc}")
            else:
                done += 1
        if done:
            messages.success(request, f"{done} delivery(ies) queued again.")
