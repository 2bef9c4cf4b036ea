"""Public URLs of audiences, mounted at the site root: the one-click unsubscribe page."""

from django.urls import path

from calendar_app.audiences.views import unsubscribe_view

urlpatterns = [
    path("u/<str:token>/", unsubscribe_view, name="audience-unsubscribe"),
]
