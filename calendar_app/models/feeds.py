"""Secret, revocable iCalendar feed URLs: a brand's calendar in Google, Outlook or Apple Calendar.

A calendar app cannot send an API token, so the feed is reached through a URL holding a secret.
Only a hash of that secret is stored, with a short prefix to recognise the feed by; the full URL
is shown once, when the feed is created. Revoking a feed makes its URL answer 404 at once.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from calendar_app.models.base import Timestamped, WorkspaceQuerySet

FEED_PREFIX_LENGTH = 8


def hash_feed_token(token: str) -> str:
    # A long random secret: a fast hash is enough, there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


class CalendarFeedQuerySet(WorkspaceQuerySet):
    def active(self) -> CalendarFeedQuerySet:
        return self.filter(revoked_at__isnull=True)

    def by_token(self, token: str) -> CalendarFeed | None:
        """The active feed whose secret is ``token``, or ``None``."""
        return (
            self.active()
            .select_related("brand", "workspace")
            .filter(token_hash=hash_feed_token(token))
            .first()
        )


class CalendarFeed(Timestamped):
    workspace = models.ForeignKey(
        "calendar_app.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    brand = models.ForeignKey(
        "calendar_app.Brand", on_delete=models.CASCADE, related_name="calendar_feeds"
    )
    name = models.CharField(max_length=120)
    token_prefix = models.CharField(max_length=FEED_PREFIX_LENGTH, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_fetched_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = CalendarFeedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "created_at"], name="feed_workspace_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_prefix}…)"

    @classmethod
    def issue(cls, *, brand, name: str, created_by=None) -> tuple[CalendarFeed, str]:
        """Create a feed and return it with its secret token, which is never stored."""
        token = secrets.token_urlsafe(32)
        feed = cls.objects.create(
            workspace_id=brand.workspace_id,
            brand=brand,
            name=name,
            token_prefix=token[:FEED_PREFIX_LENGTH],
            token_hash=hash_feed_token(token),
            created_by=created_by,
        )
        return feed, token

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at", "updated_at"])
