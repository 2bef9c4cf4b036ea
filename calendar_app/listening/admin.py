"""Listening in the admin: the inbox (per brand, filters by channel, type, tone, post,
unanswered), corrections in place, a reply drafted from a message, watches, alerts with their
links, and the banner every admin page shows while a surge is open.

Imported by :mod:`calendar_app.admin`, which registers it with the site. The rules are the
services' own (:mod:`calendar_app.listening.services`).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import CharField, Exists, OuterRef, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from calendar_app.admin.base import WORKSPACE_PATHS, TenantAdmin, has_role, scope, workspace_ids
from calendar_app.listening import services
from calendar_app.listening.models import Alert, ListeningPolicy, Message, StreamCursor, Watch
from calendar_app.listening.surges import fitting
from calendar_app.listening.terms import term_problems
from calendar_app.models import Role
from calendar_app.workflow import Actor

for _model in (Message, Watch, Alert, ListeningPolicy, StreamCursor):
    WORKSPACE_PATHS[_model] = "workspace"

#: Open alerts shown in the banner, newest first.
BANNER_SIZE = 3


def open_alerts(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the open surge alerts of the user's workspaces, for the banner on
    admin pages (two small queries, on admin pages only)."""
    if not request.path.startswith("/admin/"):
        return {}
    user = getattr(request, "user", None)
    if user is None or not (user.is_active and user.is_staff):
        return {}
    alerts = Alert.objects.filter(acknowledged_at__isnull=True)
    if not user.is_superuser:
        alerts = alerts.filter(workspace_id__in=workspace_ids(request))
    rows = list(alerts.select_related("watch", "brand").order_by("-created_at")[:BANNER_SIZE])
    return {"kairos_open_alerts": rows}


#: Stream problems shown at the top of the inbox.
PROBLEMS_SHOWN = 5


def _stream_name(row: StreamCursor, watches: dict[int, str]) -> str:
    if row.stream.startswith("search:"):
        watch_id = row.stream.partition(":")[2]
        name = watches.get(int(watch_id)) if watch_id.isdigit() else None
        return f"watch “{name}”" if name else "a watch"
    return row.stream


def stream_problems(request: HttpRequest, watch: Watch | None = None) -> list[str]:
    """What stops a stream from being read, in words a person acts on ("reconnect it to allow
    search"), for the channels the user may see: the collector keeps each stream's last error
    until a round reads it again."""
    rows = scope(
        request,
        StreamCursor.objects.exclude(last_error="").select_related("channel"),
    )
    if watch is not None:
        rows = rows.filter(stream=f"search:{watch.pk}")
    rows = list(rows.order_by("-last_run_at", "-id")[:PROBLEMS_SHOWN])
    ids = [
        int(r.stream[7:]) for r in rows if r.stream.startswith("search:") and r.stream[7:].isdigit()
    ]
    watches = dict(Watch.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}
    out = []
    for row in rows:
        code, _, reason = row.last_error.partition(": ")
        words = reason or f"could not be read ({code})"
        out.append(f"{row.channel} – {_stream_name(row, watches)}: {words}")
    return out


class UnansweredFilter(admin.SimpleListFilter):
    title = "answered"
    parameter_name = "answered"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Unanswered"), ("yes", "Answered")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("no", "yes"):
            return queryset.filter(answered=self.value() == "yes")
        return queryset


class ReplyForm(forms.Form):
    body = forms.CharField(max_length=10_000, widget=forms.Textarea(attrs={"rows": 4}))


@admin.register(Message)
class MessageAdmin(TenantAdmin):
    """The inbox. Everything is as the network showed it; only the labels can be corrected."""

    list_display = (
        "published_at",
        "brand",
        "channel",
        "kind",
        "author_handle",
        "excerpt",
        "category",
        "tone",
        "is_answered",
    )
    list_filter = ("brand", "channel", "kind", "category", "tone", UnansweredFilter, "watch")
    search_fields = ("text", "author_handle")
    list_select_related = ("brand", "channel")
    ordering = ("-published_at", "-id")
    date_hierarchy = None
    show_full_result_count = False  # a million messages: no second COUNT(*)
    raw_id_fields = ("publication",)
    fields = (
        "brand",
        "channel",
        "kind",
        "author_handle",
        "author_name",
        "text",
        "language",
        "detected_language",
        "published_at",
        "url",
        "publication",
        "variant",
        "watch",
        "category",
        "tone",
        "tone_score",
        "method",
        "corrected_at",
        "reply_link",
    )
    readonly_fields = tuple(f for f in fields if f not in ("category", "tone"))
    change_role = Role.EDITOR
    add_role = "nobody"
    delete_role = Role.ADMIN

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(answered=services.answered())

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        """The inbox, with what stops a stream from being read on top (a channel that must be
        reconnected to allow search): a person sees why a watch stays quiet."""
        if request.method == "GET":
            for problem in stream_problems(request):
                messages.warning(request, f"Listening: {problem}")
        return super().changelist_view(request, extra_context)

    @admin.display(description="text")
    def excerpt(self, obj: Message) -> str:
        return obj.text[:120]

    @admin.display(boolean=True, description="answered")
    def is_answered(self, obj: Message) -> bool:
        return bool(getattr(obj, "answered", False))

    @admin.display(description="reply")
    def reply_link(self, obj: Message) -> str:
        url = reverse("admin:calendar_app_message_reply", args=[obj.pk])
        return format_html('<a href="{}">Draft a reply…</a>', url)

    def save_model(self, request: HttpRequest, obj: Message, form: Any, change: bool) -> None:
        """A change here is a correction: recorded with who and when, never overwritten."""
        actor = Actor.for_user(request.user, obj.workspace)
        services.correct(
            obj, actor, category=form.cleaned_data["category"], tone=form.cleaned_data["tone"]
        )

    def get_urls(self) -> list:
        own = [
            path(
                "<int:pk>/reply/",
                self.admin_site.admin_view(self.reply_view),
                name="calendar_app_message_reply",
            )
        ]
        return own + super().get_urls()

    def reply_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        message = self.get_object(request, str(pk))
        if message is None or not self.has_view_permission(request, message):
            raise Http404("No such message.")
        form = ReplyForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            if not has_role(request, message.workspace_id, services.REPLY_ROLE):
                messages.error(request, "Drafting a reply needs the editor role.")
            else:
                actor = Actor.for_user(request.user, message.workspace)
                try:
                    item = services.draft_reply(message, actor, form.cleaned_data["body"])
                except services.ListeningError as exc:
                    form.add_error("body", str(exc))
                else:
                    messages.success(
                        request, "Reply drafted: submit it for approval like any other post."
                    )
                    return redirect("admin:calendar_app_contentitem_change", item.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Reply to {message.author_handle}",
            "message_row": message,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/calendar_app/message/reply.html", context)


class WatchForm(forms.ModelForm):
    class Meta:
        model = Watch
        fields = [
            "brand",
            "name",
            "terms",
            "active",
            "window_minutes",
            "surge_factor",
            "negative_jump",
            "min_messages",
        ]

    def clean_terms(self) -> Any:
        terms = self.cleaned_data.get("terms")
        problems = term_problems(terms)
        if problems:
            raise forms.ValidationError(problems)
        return terms


@admin.register(Watch)
class WatchAdmin(TenantAdmin):
    form = WatchForm
    list_display = (
        "name",
        "brand",
        "active",
        "window_minutes",
        "surge_factor",
        "negative_jump",
        "reading",
    )
    list_filter = ("brand", "active")
    workspace_from = "brand"
    readonly_fields = ("reading",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """Each row knows whether any of its searches fails, in the list's one query: only a
        failing watch (rare) reads which channels and why."""
        failing = StreamCursor.objects.filter(
            workspace_id=OuterRef("workspace_id"),
            stream=Concat(Value("search:"), Cast(OuterRef("pk"), CharField())),
        ).exclude(last_error="")
        return super().get_queryset(request).annotate(search_failing=Exists(failing))

    @admin.display(description="reading")
    def reading(self, obj: Watch) -> str:
        """Whether the watch's searches are read, or what stops them (reconnect to search)."""
        if not obj.pk:
            return "-"
        if getattr(obj, "search_failing", True) is False:
            return "ok"
        problems = StreamCursor.objects.filter(
            workspace_id=obj.workspace_id, stream=f"search:{obj.pk}"
        ).exclude(last_error="")
        words = [
            f"{row.channel}: {row.last_error.partition(': ')[2] or row.last_error}"
            for row in problems.select_related("channel__brand")[:PROBLEMS_SHOWN]
        ]
        return "; ".join(words) or "ok"

    def save_model(self, request: HttpRequest, obj: Watch, form: Any, change: bool) -> None:
        obj.workspace_id = obj.brand.workspace_id
        super().save_model(request, obj, form, change)


@admin.register(Alert)
class AlertAdmin(TenantAdmin):
    list_display = ("created_at", "brand", "watch", "reason", "count", "baseline", "is_open")
    list_filter = ("brand", "reason")
    readonly_fields = (
        "watch",
        "brand",
        "reason",
        "window_start",
        "window_end",
        "count",
        "baseline",
        "negative_share",
        "baseline_negative_share",
        "acknowledged_at",
        "what_fits",
    )
    exclude = ("acknowledged_by", "workspace")
    actions = ["acknowledge"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(boolean=True, description="open")
    def is_open(self, obj: Alert) -> bool:
        return obj.acknowledged_at is None

    @admin.display(description="what fits (nothing is posted by itself)")
    def what_fits(self, obj: Alert) -> str:
        links = fitting(obj)
        parts = [
            format_html(
                '<a href="{}">Playbook: {}</a>',
                reverse("admin:calendar_app_playbook_change", args=[p["id"]]),
                p["name"],
            )
            for p in links["playbooks"]
        ] + [
            format_html(
                '<a href="{}">Template: {}</a>',
                reverse("admin:calendar_app_reactivetemplate_change", args=[t["id"]]),
                t["name"],
            )
            for t in links["templates"]
        ]
        return format_html("<br>".join(["{}"] * len(parts)), *parts) if parts else "—"

    @admin.action(description="Acknowledge (take the banner down)")
    def acknowledge(self, request: HttpRequest, queryset: QuerySet) -> None:
        allowed = [a.pk for a in queryset if has_role(request, a.workspace_id, Role.EDITOR)]
        done = Alert.objects.filter(pk__in=allowed, acknowledged_at__isnull=True).update(
            acknowledged_at=timezone.now(), acknowledged_by=request.user
        )
        messages.success(request, f"{done} alert(s) acknowledged.")


@admin.register(ListeningPolicy)
class ListeningPolicyAdmin(TenantAdmin):
    list_display = ("workspace", "retention_days", "reply_window_days")
    change_role = Role.ADMIN
