"""Public URLs of approvals, mounted at the site root: the client's approval page."""

from django.urls import path

from calendar_app.approvals.links import link_view

urlpatterns = [
    path("approve/<str:token>/", link_view, name="approval-link"),
]
