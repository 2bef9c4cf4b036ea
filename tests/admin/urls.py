"""Only the admin: these tests do not depend on the rest of the project's URLs importing."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
