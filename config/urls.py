"""Top-level URLs: the admin and, under /api/v1/, the REST API."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
