"""The preview panel of the admin: what each channel will receive, shown where people write,
approve and fire (see :mod:`calendar_app.delivery.preflight`)."""

from __future__ import annotations

from collections.abc import Mapping

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from calendar_app.delivery.preflight import ChannelPreview, previews_for, template_previews
from calendar_app.models import ContentItem, ReactiveTemplate
from calendar_app.reactive import required_placeholders
from publishers.rendering import BUILTIN_PLACEHOLDERS

TEMPLATE = "admin/calendar_app/includes/previews.html"


def panel(previews: list[ChannelPreview], note: str = "") -> SafeString:
    """The previews as HTML; every text in them is escaped by the template."""
    return SafeString(render_to_string(TEMPLATE, {"previews": previews, "note": note}))


def item_panel(item: ContentItem) -> SafeString:
    if item.pk is None:
        return panel([], "Save the item to see how each channel will show it.")
    return panel(previews_for(item))


def template_panel(
    template: ReactiveTemplate, values: Mapping[str, str] | None = None
) -> SafeString:
    """The template on each channel; placeholders without a value are shown as written."""
    if template.pk is None:
        return panel([], "Save the template to see how each channel will show it.")
    names = required_placeholders(template) - set(BUILTIN_PLACEHOLDERS)
    given = {name: value for name, value in (values or {}).items() if value}
    shown = {name: given.get(name, "{{ " + name + " }}") for name in names}
    note = (
        "Placeholders without a value are shown as written; the text will be as long as "
        "the values typed when it fires."
        if set(names) - set(given)
        else ""
    )
    return panel(template_previews(template, shown), note)
