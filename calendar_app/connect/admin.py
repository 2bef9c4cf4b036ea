"""The admin's "Connect" buttons on a brand's page: the same flow as the API, for marketers.

A button per network that connects by signing in; it starts the flow and sends the person to
the network. Networks that need to know where first (a Mastodon instance) ask for it on a small
page. After the callback, a login that manages several accounts comes back to a picker here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from calendar_app.admin.base import has_role
from calendar_app.connect.flow import ConnectError, choices, choose_account, start_flow
from calendar_app.connect.models import FlowStatus, OAuthFlow
from calendar_app.models import Brand, Role
from calendar_app.plugins_runtime import get_plugins
from publishers import Network

__all__ = ["ConnectButtons"]


def oauth_networks() -> list[Network]:
    """The installed networks that connect by signing in."""
    plugins = get_plugins()
    found = (plugins.network(key) for key in sorted(plugins.networks.keys()))
    return [n for n in found if type(n).oauth_app is not Network.oauth_app]


class ConnectButtons:
    """Mixed into ``BrandAdmin``: the buttons (a read-only field) and their two views."""

    @staticmethod
    def _url(name: str, *args: Any) -> str:
        return reverse(f"admin:calendar_app_brand_{name}", args=args)

    def connect_buttons(self, brand: Brand) -> str:
        if brand.pk is None:
            return "Save the brand first."
        return format_html_join(
            " ",
            '<a class="button" href="{}">Connect {}</a>',
            (
                (self._url("connect", brand.pk, network.key), network.display_name)
                for network in oauth_networks()
            ),
        ) or format_html("{}", "No installed network connects by signing in.")

    connect_buttons.short_description = "connect a channel"  # type: ignore[attr-defined]

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view  # type: ignore[attr-defined]
        return [
            path(
                "<int:brand_id>/connect/<str:network>/",
                wrap(self.connect_view),
                name="calendar_app_brand_connect",
            ),
            path(
                "<int:brand_id>/connect/choose/<int:flow_id>/",
                wrap(self.choose_view),
                name="calendar_app_brand_choose",
            ),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def _brand(self, request: HttpRequest, brand_id: int) -> Brand:
        brand = get_object_or_404(self.get_queryset(request), pk=brand_id)  # type: ignore[attr-defined]
        if not has_role(request, brand.workspace_id, Role.ADMIN):
            raise_not_found()
        return brand

    def connect_view(self, request: HttpRequest, brand_id: int, network: str) -> HttpResponse:
        brand = self._brand(request, brand_id)
        back = reverse("admin:calendar_app_brand_change", args=[brand.pk])
        known = {n.key: n for n in oauth_networks()}
        if network not in known:
            messages.error(request, f"No installed network {network!r} connects by signing in.")
            return HttpResponseRedirect(back)
        fields = [s for s in known[network].settings_schema if s.required]
        if request.method == "POST" or not fields:
            settings = {s.name: request.POST.get(s.name, "").strip() for s in fields}
            try:
                _, url = start_flow(brand, network, settings, request.user)
            except ConnectError as exc:
                messages.error(request, exc.message)
                return HttpResponseRedirect(back)
            return HttpResponseRedirect(url)
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": Brand._meta,
            "brand": brand,
            "network": known[network].display_name,
            "fields": [
                {"name": s.name, "label": s.label, "help_text": s.help_text, "required": True}
                for s in fields
            ],
            "title": f"Connect {known[network].display_name}",
        }
        return TemplateResponse(request, "admin/calendar_app/brand/connect.html", context)

    def choose_view(self, request: HttpRequest, brand_id: int, flow_id: int) -> HttpResponse:
        brand = self._brand(request, brand_id)
        flow = get_object_or_404(OAuthFlow, pk=flow_id, brand=brand)
        back = reverse("admin:calendar_app_brand_change", args=[brand.pk])
        if request.method == "POST":
            try:
                flow = choose_account(flow.pk, brand.workspace_id, request.POST.get("account", ""))
            except ConnectError as exc:
                messages.error(request, exc.message)
                return HttpResponseRedirect(request.path)
            messages.success(request, f"{flow.channel.handle} is connected.")
            return HttpResponseRedirect(back)
        if flow.status != FlowStatus.CHOOSING:
            messages.info(request, "This connection is not waiting for an account to be picked.")
            return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": Brand._meta,
            "brand": brand,
            "choices": choices(flow),
            "title": "Pick an account",
        }
        return TemplateResponse(request, "admin/calendar_app/brand/connect.html", context)


def raise_not_found() -> None:
    from django.http import Http404

    raise Http404("No such brand.")
