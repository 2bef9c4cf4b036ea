"""The project's URLs plus the calendar, feed and import routes, wired the way the lead will add
them to ``config/urls.py`` and ``calendar_app/api/urls.py`` (see docs/api.md)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from calendar_app.api.views.calendar import CalendarView
from calendar_app.api.views.feeds import CalendarFeedViewSet, EventImportView
from calendar_app.feeds_views import ical_feed
from config.urls import urlpatterns as project_urlpatterns

calendar_router = SimpleRouter()
calendar_router.register("calendar-feeds", CalendarFeedViewSet, basename="calendar-feed")

api_patterns = (
    [
        path(
            "workspaces/<slug:workspace_slug>/calendar/",
            CalendarView.as_view(),
            name="calendar",
        ),
        path(
            "workspaces/<slug:workspace_slug>/events/import/",
            EventImportView.as_view(),
            name="event-import",
        ),
        path("workspaces/<slug:workspace_slug>/", include(calendar_router.urls)),
    ],
    "calendar_api",
)

urlpatterns = [
    path("feeds/ical/<str:token>.ics", ical_feed, name="calendar-feed-ics"),
    path("api/v1/", include(api_patterns)),
    *project_urlpatterns,
]
