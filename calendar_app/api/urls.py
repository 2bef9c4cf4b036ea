"""``/api/v1/`` URL map: workspace-less lists, then everything nested under a workspace.

workspaces/                                   the caller's workspaces
networks/                                     installed networks and capabilities
workspaces/<slug>/{members,tokens,brands,channels,events,content-items,
                   reactive-templates,experiments,publications,metric-snapshots}/
workspaces/<slug>/experiments/<id>/variants/
"""

from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import DefaultRouter, SimpleRouter

from calendar_app.api.views.brands import BrandViewSet, ChannelViewSet
from calendar_app.api.views.content import ContentItemViewSet
from calendar_app.api.views.delivery import MetricSnapshotViewSet, PublicationViewSet
from calendar_app.api.views.events import EventViewSet
from calendar_app.api.views.experiments import ExperimentViewSet, VariantViewSet
from calendar_app.api.views.networks import NetworkListView
from calendar_app.api.views.reactive import ReactiveTemplateViewSet
from calendar_app.api.views.tenancy import ApiTokenViewSet, MemberViewSet, WorkspaceListViewSet

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

#: Resources nested one level deeper (under an experiment).
variant_router = SimpleRouter()
variant_router.register("variants", VariantViewSet, basename="variant")

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
    path("workspaces/<slug:workspace_slug>/", include(workspace_router.urls)),
]

__all__ = ["DefaultRouter", "urlpatterns", "variant_router", "workspace_router"]
