"""The Kairos admin, for marketers: plan, approve, schedule and fire posts.

One module per concept group; importing them registers their admin classes. Rows and choices are
scoped to the user's workspaces (see :mod:`calendar_app.admin.base`).
"""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from calendar_app.admin import (  # noqa: F401  (registration side effects)
    brands,
    content,
    delivery,
    events,
    experiments,
    feeds,
    reactive,
    tenancy,
    tracking,
    webhooks,
)
from calendar_app.approvals import admin as approvals_admin  # noqa: F401
from calendar_app.audiences import admin as audiences_admin  # noqa: F401
from calendar_app.crisis import admin as crisis_admin  # noqa: F401
from calendar_app.imports import admin as imports_admin  # noqa: F401
from calendar_app.listening import admin as listening_admin  # noqa: F401
from calendar_app.models import ContentItem
from calendar_app.moments import admin as moments_admin  # noqa: F401
from calendar_app.recurring import admin as recurring_admin  # noqa: F401
from calendar_app.slots import admin as slots_admin  # noqa: F401

admin.site.site_header = "Kairos"
# "View site" led to a 404: Kairos has no public site, its home is the admin's calendar.
admin.site.site_url = None
admin.site.site_title = "Kairos admin"
admin.site.index_title = "Content calendar"


_models_index = admin.site.index


def _index(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """The admin opens on the calendar: a marketer plans by date, not by model name. The list of
    every model stays one click away (the calendar's "All records", and the sidebar)."""
    model_admin = admin.site._registry.get(ContentItem)
    if model_admin is not None and model_admin.has_view_permission(request):
        return HttpResponseRedirect(reverse("admin:calendar_app_contentitem_calendar"))
    return _models_index(request, extra_context)


admin.site.index = _index
