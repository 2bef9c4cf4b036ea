"""Moments in the admin: write them (window, brand, armed templates, samples, team) and run the
war room - the readiness report, one-click firing per armed template with a preview per channel
before the click, and the live view of fires, posts, fire-to-live times, failures and first
engagement, refreshed every 5 s without reloading the page.

Imported by :mod:`calendar_app.admin`, which registers it with the site. The rules are the
services' own (:mod:`calendar_app.moments.services`): a refusal is shown as the message.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join

from calendar_app.admin.base import WORKSPACE_PATHS, TenantAdmin
from calendar_app.admin.previews import template_panel
from calendar_app.models import Role
from calendar_app.moments import holds, readiness, services
from calendar_app.moments.models import Moment
from calendar_app.reactive import required_placeholders
from calendar_app.workflow import Actor
from publishers.rendering import BUILTIN_PLACEHOLDERS

WORKSPACE_PATHS[Moment] = "workspace"
WAR_ROOM_TEMPLATE = "admin/calendar_app/moment/war_room.html"
VALUE_PREFIX = "value:"


def typed_values(request: HttpRequest) -> dict[str, str]:
    return {
        key[len(VALUE_PREFIX) :]: value
        for key, value in request.POST.items()
        if key.startswith(VALUE_PREFIX)
    }


@admin.register(Moment)
class MomentAdmin(TenantAdmin):
    list_display = ("name", "brand", "starts_at", "ends_at", "ready", "war_room_link")
    list_filter = ("brand",)
    search_fields = ("name",)
    autocomplete_fields = ("brand", "event", "templates")
    date_hierarchy = "starts_at"
    readonly_fields = (
        "war_room_link",
        "readiness_checked_at",
        "readiness_ok",
        "checks_done",
        "held_at",
        "released_at",
        "released_by_label",
        "held_posts",
    )
    actions = ["hold_now", "release_now"]
    fieldsets = (
        (None, {"fields": ("workspace", "name", "brand", "event", "war_room_link")}),
        ("Window (UTC)", {"fields": ("starts_at", "ends_at")}),
        (
            "Armed templates",
            {
                "fields": ("templates", "sample_values"),
                "description": "Only armed templates can be fired from the moment. Sample "
                "values (one per placeholder) are what the readiness check renders with.",
            },
        ),
        ("Team on duty", {"fields": ("team",)}),
        (
            "Lower-priority posts",
            {
                "fields": (
                    "hold_below",
                    "held_at",
                    "released_at",
                    "released_by_label",
                    "held_posts",
                ),
                "description": "Hold the brand's scheduled posts of a lower priority during "
                "the window, so they do not step on the live conversation; they are released "
                "when it closes (a post whose moment passed follows its lateness policy).",
            },
        ),
        ("Readiness", {"fields": ("readiness_ok", "readiness_checked_at", "checks_done")}),
    )

    @admin.display(description="held posts")
    def held_posts(self, obj: Moment) -> str:
        if obj.pk is None:
            return "—"
        rows = holds.holds_of(obj)
        if not rows:
            return "none"
        return format_html_join(
            "",
            "<div>#{} “{}” ({}), due {} UTC: {}</div>",
            (
                (
                    r["publication"],
                    r["title"],
                    r["priority"],
                    r["due_at"].strftime("%Y-%m-%d %H:%M"),
                    r["outcome"],
                )
                for r in rows[:200]
            ),
        )

    @admin.action(description="Hold the lower-priority posts now (window open)")
    def hold_now(self, request: HttpRequest, queryset: Any) -> None:
        for moment in queryset:
            actor = Actor.for_user(request.user, moment.workspace)
            if not actor.may(Role.EDITOR):
                messages.error(request, f"{moment}: holding posts needs the editor role.")
                continue
            try:
                count = holds.hold(moment, on_demand=True)
            except holds.HoldError as exc:
                messages.error(request, f"{moment}: {exc}")
            else:
                messages.success(request, f"{moment}: {count} post(s) held.")

    @admin.action(description="Release the held posts now")
    def release_now(self, request: HttpRequest, queryset: Any) -> None:
        for moment in queryset:
            actor = Actor.for_user(request.user, moment.workspace)
            if not actor.may(Role.EDITOR):
                messages.error(request, f"{moment}: releasing posts needs the editor role.")
                continue
            try:
                result = holds.release(moment, actor)
            except holds.HoldError as exc:
                messages.error(request, f"{moment}: {exc}")
            else:
                messages.success(
                    request,
                    f"{moment}: {len(result.released)} released, {len(result.skipped)} skipped, "
                    f"{len(result.to_crisis)} kept held by an active crisis.",
                )

    @admin.display(boolean=True, description="ready")
    def ready(self, obj: Moment) -> bool | None:
        return obj.readiness_ok

    @admin.display(description="war room")
    def war_room_link(self, obj: Moment) -> str:
        if obj.pk is None:
            return "—"
        return format_html(
            '<a href="{}">Open the war room</a>',
            reverse("admin:calendar_app_moment_war_room", args=[obj.pk]),
        )

    def get_urls(self) -> list:
        own = [
            path(
                "<int:pk>/war-room/",
                self.admin_site.admin_view(self.war_room),
                name="calendar_app_moment_war_room",
            ),
            path(
                "<int:pk>/war-room/live.json",
                self.admin_site.admin_view(self.live_json),
                name="calendar_app_moment_live",
            ),
        ]
        return own + super().get_urls()

    def _moment(self, request: HttpRequest, pk: int) -> Moment:
        moment = self.get_object(request, str(pk))
        if moment is None or not self.has_view_permission(request, moment):
            raise Http404("No such moment.")
        return moment

    def live_json(self, request: HttpRequest, pk: int) -> JsonResponse:
        moment = self._moment(request, pk)
        try:
            since = parse_datetime(request.GET.get("since") or "")
        except ValueError:
            since = None
        if request.GET.get("since") and since is None:
            return JsonResponse({"since": ["Give the cursor of a previous answer."]}, status=400)
        return JsonResponse(services.live(moment, since))

    def war_room(self, request: HttpRequest, pk: int) -> HttpResponse:
        moment = self._moment(request, pk)
        actor = Actor.for_user(request.user, moment.workspace)
        typed: dict[int, dict[str, str]] = {}
        if request.method == "POST":
            if request.POST.get("do") == "readiness":
                if not actor.may(Role.EDITOR):
                    messages.error(request, "Running the readiness check needs the editor role.")
                else:
                    report = readiness.check(moment)
                    level = messages.SUCCESS if report["ok"] else messages.WARNING
                    messages.add_message(
                        request,
                        level,
                        f"Readiness: {report['green']} green, {report['red']} red.",
                    )
                return redirect(request.path)
            raw = request.POST.get("template") or ""
            template_id = int(raw) if raw.isdigit() and len(raw) < 12 else 0
            values = typed_values(request)
            typed[template_id] = values
            if "fire" in request.POST:
                try:
                    fired = services.fire(moment, template_id, actor, values)
                except services.MomentError as exc:
                    messages.error(request, f"Not fired: {exc}")
                else:
                    messages.success(request, f"Fired (fire #{fired.pk}): it is going out now.")
                    return redirect(request.path)
        armed = []
        for template in moment.templates.order_by("name", "pk"):
            names = sorted(required_placeholders(template) - set(BUILTIN_PLACEHOLDERS))
            values = typed.get(template.pk, {})
            armed.append(
                {
                    "template": template,
                    "fields": [
                        {"name": name, "input": VALUE_PREFIX + name, "value": values.get(name, "")}
                        for name in names
                    ],
                    "preview": template_panel(template, values),
                }
            )
        names = dict(
            get_user_model()
            .objects.filter(pk__in=[e["user"] for e in moment.team or []])
            .values_list("pk", "username")
        )
        team = [
            {"name": names.get(e["user"], f"#{e['user']}"), "role": e.get("role", "")}
            for e in moment.team or []
        ]
        context: dict[str, Any] = {
            "team": team,
            **self.admin_site.each_context(request),
            "title": f"War room: {moment.name}",
            "opts": self.model._meta,
            "moment": moment,
            "armed": armed,
            "report": moment.readiness or {},
            "may_fire": actor.may(services.FIRE_ROLE),
            "live_url": reverse("admin:calendar_app_moment_live", args=[moment.pk]),
        }
        return TemplateResponse(request, WAR_ROOM_TEMPLATE, context)
