"""Top-level URLs: the admin, the health check, tracked links and, under /api/v1/, the REST API."""

from django.contrib import admin
from django.urls import include, path

from calendar_app.health import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("", include("calendar_app.tracking_urls")),
]
