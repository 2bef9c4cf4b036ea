"""``/api/v1/`` URL map: workspace-less lists, then everything nested under a workspace.

workspaces/                                   the caller's workspaces
networks/                                     installed networks and capabilities
workspaces/<slug>/{members,tokens,brands,channels,events,content-items,
                   reactive-templates,experiments,publications,metric-snapshots,
                   webhooks,webhook-deliveries,media}/
workspaces/<slug>/experiments/<id>/variants/
workspaces/<slug>/calendar/                   events, items and template windows between two instants
workspaces/<slug>/events/import/              .ics upload
workspaces/<slug>/calendar-feeds/             secret iCalendar feed URLs (served at /feeds/ical/<token>.ics)
workspaces/<slug>/{crisis-playbooks,crises}/  crisis playbooks, activations and drills
workspaces/<slug>/approval-{policies,steps,links}/  separation of duties, chains, client links
workspaces/<slug>/content-items/<id>/{approval-progress,comments}/
workspaces/<slug>/moments/                    moment windows (war room): readiness, fire, live
workspaces/<slug>/posting-slots/              weekly slots, next-free, queue (calendar_app/slots/api.py)
workspaces/<slug>/content-imports/            CSV / JSON import, dry run, template (calendar_app/imports/api.py)
workspaces/<slug>/{content-series,evergreen-items}/  recurring content, evergreen repeats (calendar_app/recurring/api.py)
workspaces/<slug>/{transitions,approval-records,fires}/  the audit trail, read-only (calendar_app/audit/api.py)
workspaces/<slug>/listening/{messages,watches,alerts,policy}/  replies, mentions, surges
"""

from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import DefaultRouter, SimpleRouter

from calendar_app.api.views.brands import BrandViewSet, ChannelViewSet
from calendar_app.api.views.calendar import CalendarView
from calendar_app.api.views.content import ContentItemViewSet
from calendar_app.api.views.delivery import MetricSnapshotViewSet, PublicationViewSet
from calendar_app.api.views.events import EventViewSet
from calendar_app.api.views.experiments import ExperimentViewSet, VariantViewSet
from calendar_app.api.views.feeds import CalendarFeedViewSet, EventImportView
from calendar_app.api.views.networks import NetworkListView
from calendar_app.api.views.reactive import ReactiveTemplateViewSet
from calendar_app.api.views.tenancy import ApiTokenViewSet, MemberViewSet, WorkspaceListViewSet
from calendar_app.api.views.webhooks import WebhookDeliveryViewSet, WebhookSubscriptionViewSet
from calendar_app.audit.api import ApprovalRecordViewSet, FireViewSet, TransitionViewSet
from calendar_app.connect.api import ConnectionViewSet
from calendar_app.imports.api import ContentImportViewSet
from calendar_app.media.api import MediaAssetViewSet
from calendar_app.recurring.api import ContentSeriesViewSet, EvergreenItemViewSet
from calendar_app.slots.api import PostingSlotViewSet

app_name = "api"

#: Every workspace-scoped resource. The tenancy and permission tests are generated from it.
workspace_router = SimpleRouter()
workspace_router.register("members", MemberViewSet, basename="member")
workspace_router.register("tokens", ApiTokenViewSet, basename="token")
workspace_router.register("brands", BrandViewSet, basename="brand")
workspace_router.register("channels", ChannelViewSet, basename="channel")
workspace_router.register("events", EventViewSet, basename="event")
workspace_router.register("content-items", ContentItemViewSet, basename="content-item")
workspace_router.register(
    "reactive-templates", ReactiveTemplateViewSet, basename="reactive-template"
)
workspace_router.register("experiments", ExperimentViewSet, basename="experiment")
workspace_router.register("publications", PublicationViewSet, basename="publication")
workspace_router.register("metric-snapshots", MetricSnapshotViewSet, basename="metric-snapshot")
workspace_router.register("media", MediaAssetViewSet, basename="media")
workspace_router.register("connections", ConnectionViewSet, basename="connection")
workspace_router.register("webhooks", WebhookSubscriptionViewSet, basename="webhook-subscription")
workspace_router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")
# Posting slots, "next free slot" and "add to queue" (calendar_app/slots/api.py).
workspace_router.register("posting-slots", PostingSlotViewSet, basename="posting-slot")
# Bulk import of content from CSV or JSON rows (calendar_app/imports/api.py).
workspace_router.register("content-imports", ContentImportViewSet, basename="content-import")
# Recurring content and evergreen items (calendar_app/recurring/api.py).
workspace_router.register("content-series", ContentSeriesViewSet, basename="content-series")
workspace_router.register("evergreen-items", EvergreenItemViewSet, basename="evergreen-item")
# The audit trail and the fire history, read-only (calendar_app/audit/api.py).
workspace_router.register("transitions", TransitionViewSet, basename="transition")
workspace_router.register("approval-records", ApprovalRecordViewSet, basename="approval-record")
workspace_router.register("fires", FireViewSet, basename="fire")

#: Resources nested one level deeper (under an experiment).
variant_router = SimpleRouter()
variant_router.register("variants", VariantViewSet, basename="variant")

#: Secret iCalendar feed URLs; kept off ``workspace_router`` because creating one returns a secret.
calendar_router = SimpleRouter()
calendar_router.register("calendar-feeds", CalendarFeedViewSet, basename="calendar-feed")

root_router = SimpleRouter()
root_router.register("workspaces", WorkspaceListViewSet, basename="workspace")
root_router.lookup_value_regex = "[^/.]+"

urlpatterns = [
    path("networks/", NetworkListView.as_view(), name="network-list"),
    path("", include(root_router.urls)),
    path(
        "workspaces/<slug:workspace_slug>/experiments/<int:experiment_pk>/",
        include(variant_router.urls),
    ),
    path("workspaces/<slug:workspace_slug>/calendar/", CalendarView.as_view(), name="calendar"),
    # Before the router: otherwise events/<pk>/ would take "import" for an id.
    path(
        "workspaces/<slug:workspace_slug>/events/import/",
        EventImportView.as_view(),
        name="event-import",
    ),
    path("workspaces/<slug:workspace_slug>/", include(calendar_router.urls)),
    path("workspaces/<slug:workspace_slug>/", include(workspace_router.urls)),
    # Audience lists and their subscribers (calendar_app/audiences/api.py keeps its own routers).
    path("", include("calendar_app.audiences.api")),
    # Crisis playbooks and their activations (calendar_app/crisis/api.py).
    path("", include("calendar_app.crisis.api")),
    # Approval policies, chains, client links, progress and comments (calendar_app/approvals/api.py).
    path("", include("calendar_app.approvals.api")),
    # Moment windows, their readiness and the war room (calendar_app/moments/api.py).
    path("", include("calendar_app.moments.api")),
    # Listening: the inbox, watches, alerts, retention (calendar_app/listening/api.py).
    path("", include("calendar_app.listening.api")),
]

__all__ = ["DefaultRouter", "urlpatterns", "variant_router", "workspace_router"]
