"""The project's URLs with the webhook endpoints registered under the API, for these tests only
(the same registration the lead adds to ``calendar_app/api/urls.py``; skipped once it is there)."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from calendar_app.api import urls as api_urls
from calendar_app.api.views.webhooks import WebhookDeliveryViewSet, WebhookSubscriptionViewSet
from config import urls as project_urls

WEBHOOK_ROUTES = [
    ("webhooks", WebhookSubscriptionViewSet, "webhook-subscription"),
    ("webhook-deliveries", WebhookDeliveryViewSet, "webhook-delivery"),
]

router = SimpleRouter()
_registered = {basename for _prefix, _viewset, basename in api_urls.workspace_router.registry}
for prefix, viewset, basename in WEBHOOK_ROUTES:
    if basename not in _registered:
        router.register(prefix, viewset, basename=basename)

api_patterns = [
    path("workspaces/<slug:workspace_slug>/", include(router.urls)),
    *api_urls.urlpatterns,
]

urlpatterns = [
    path("api/v1/", include((api_patterns, "api"), namespace="api")),
    *(p for p in project_urls.urlpatterns if not str(p.pattern).startswith("api/v1/")),
]
