"""The feed admin: prefix only, never the secret; no add page; revoking is an action."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from calendar_app.models import CalendarFeed, Role
from tests import factories as f


def _login(client, workspace=None, role=None, superuser=False):
    if superuser:
        user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    else:
        user = f.MembershipFactory(workspace=workspace, role=role).user
        user.is_staff = True
        user.save()
    client.force_login(user)
    return client


def test_changelist_shows_prefix_never_the_secret(client, workspace, brand):
    feed, token = CalendarFeed.issue(brand=brand, name="Team feed")
    _login(client, superuser=True)
    listing = client.get("/admin/calendar_app/calendarfeed/")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert feed.token_prefix in html and token not in html and token[8:] not in html
    change = client.get(f"/admin/calendar_app/calendarfeed/{feed.pk}/change/")
    assert change.status_code == 200 and token[8:] not in change.content.decode()
    assert client.get("/admin/calendar_app/calendarfeed/add/").status_code == 403


def test_revoke_action_follows_roles(client, workspace, other_workspace, brand):
    feed, _ = CalendarFeed.issue(brand=brand, name="Team feed")
    foreign, _ = CalendarFeed.issue(brand=f.BrandFactory(workspace=other_workspace), name="x")
    _login(client, workspace, Role.EDITOR)
    listing = client.get("/admin/calendar_app/calendarfeed/")
    assert feed.name in listing.content.decode() and f"/{foreign.pk}/change/" not in (
        listing.content.decode()
    )
    response = client.post(
        "/admin/calendar_app/calendarfeed/",
        {"action": "revoke_feeds", "_selected_action": [feed.pk, foreign.pk]},
    )
    assert response.status_code == 302
    feed.refresh_from_db()
    foreign.refresh_from_db()
    assert feed.revoked_at is not None
    assert foreign.revoked_at is None  # out of the user's scope: not even selectable


def test_viewer_cannot_revoke(client, workspace, brand):
    feed, _ = CalendarFeed.issue(brand=brand, name="Team feed")
    _login(client, workspace, Role.VIEWER)
    client.post(
        "/admin/calendar_app/calendarfeed/",
        {"action": "revoke_feeds", "_selected_action": [feed.pk]},
    )
    feed.refresh_from_db()
    assert feed.revoked_at is None
