"""URLs of tracking, mounted at the site root: ``/r/<code>`` and ``/api/v1/conversions/``.

Kept apart from the DRF router because neither view is a resource of the REST API: the redirect
must stay as cheap as possible and the conversion call authenticates by signature, not token.
"""

from django.urls import path

from calendar_app import tracking_views

urlpatterns = [
    path("r/<str:code>", tracking_views.tracked_redirect, name="tracked-redirect"),
    path("api/v1/conversions/", tracking_views.conversions, name="conversions"),
]
