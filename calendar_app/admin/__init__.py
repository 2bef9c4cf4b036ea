"""The Kairos admin, for marketers: plan, approve, schedule and fire posts.

One module per concept group; importing them registers their admin classes. Rows and choices are
scoped to the user's workspaces (see :mod:`calendar_app.admin.base`).
"""

from django.contrib import admin

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
from calendar_app.listening import admin as listening_admin  # noqa: F401
from calendar_app.moments import admin as moments_admin  # noqa: F401

admin.site.site_header = "Kairos"
admin.site.site_title = "Kairos admin"
admin.site.index_title = "Content calendar"
