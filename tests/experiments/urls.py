"""URLconf for the tracking tests: only the tracking routes (config/urls.py is the lead's)."""

from django.urls import include, path

urlpatterns = [path("", include("calendar_app.tracking_urls"))]
