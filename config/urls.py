"""Top-level URLs: the admin, the health check, tracked links and, under /api/, the REST API with its
schema and docs."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from calendar_app.connect.api import oauth_callback
from calendar_app.delivery.health import health
from calendar_app.feeds_views import ical_feed
from calendar_app.media.views import media_file

urlpatterns = [
    # Nothing public lives at the root: a newcomer's first click lands on the calendar.
    path("", RedirectView.as_view(url="/admin/", permanent=False), name="home"),
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("feeds/ical/<str:token>.ics", ical_feed, name="calendar-feed-ics"),
    path("m/<str:token>", media_file, name="media-file"),
    path("connect/callback", oauth_callback, name="connect-callback"),
    path("", include("calendar_app.tracking_urls")),
    path("", include("calendar_app.audiences.urls")),
    path("", include("calendar_app.approvals.urls")),
    path("api/v1/", include("calendar_app.api.urls", namespace="api")),
    path("api/auth/", include("rest_framework.urls", namespace="rest_framework")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path(
        "api/redoc/",
        # Our template: drf-spectacular's loads web fonts from a CDN; the docs must work offline.
        SpectacularRedocView.as_view(url_name="schema", template_name="api_docs/redoc.html"),
        name="redoc",
    ),
]

handler404 = "calendar_app.api.exceptions.page_not_found"
