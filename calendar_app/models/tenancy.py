"""Tenancy: workspaces, who belongs to them with which role, and API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from calendar_app.models.base import Timestamped

slug_validator = RegexValidator(
    r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
    "Use lowercase letters, digits and single hyphens (for example 'north-agency').",
)


class Role(models.TextChoices):
    """Roles are ordered: each one may do everything the ones before it may."""

    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    APPROVER = "approver", "Approver"
    ADMIN = "admin", "Admin"

    @classmethod
    def rank(cls, role: str) -> int:
        # A tuple built once: iterating the enum on every call was 7% of a content list's
        # profile (each item's allowed actions compare roles a dozen times).
        return _ROLE_ORDER.index(role)

    @classmethod
    def at_least(cls, role: str, required: str) -> bool:
        return cls.rank(role) >= cls.rank(required)


#: The roles' values in rank order (see :meth:`Role.rank`).
_ROLE_ORDER = tuple(choice.value for choice in Role)


class WorkspaceManager(models.Manager):
    def get_by_natural_key(self, slug: str) -> Workspace:
        return self.get(slug=slug)


class Workspace(Timestamped):
    """A tenant: one agency or one brand owner. Nothing is shared across workspaces."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True, validators=[slug_validator])

    objects = WorkspaceManager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def natural_key(self) -> tuple[str]:
        return (self.slug,)


class Membership(Timestamped):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        ordering = ["workspace", "user"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_user"),
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.workspace} ({self.role})"


TOKEN_PREFIX_LENGTH = 8


def hash_token_secret(secret: str) -> str:
    # Tokens are long random strings, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def usable(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(Timestamped):
    """A bearer token: a member's personal token, or a workspace API key (no user).

    Only a hash of the secret is stored; the full token (``prefix.secret``) is shown once, when it is
    created. A member token never has more rights than its member: the effective role is the lower
    of the token's role and the membership's. Only the person a token names may create it
    (:mod:`calendar_app.token_policy`), so a personal token never lets someone act as another.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_tokens",
        help_text="Empty for a workspace API key (a service account).",
    )
    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=TOKEN_PREFIX_LENGTH, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="apitoken_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(
        cls,
        *,
        workspace: Workspace,
        name: str,
        role: str,
        user=None,
        created_by=None,
        expires_at=None,
    ) -> tuple[ApiToken, str]:
        """Create a token and return it with its clear text, which is never stored."""
        prefix = secrets.token_hex(TOKEN_PREFIX_LENGTH // 2)
        secret = secrets.token_urlsafe(32)
        token = cls.objects.create(
            workspace=workspace,
            user=user,
            name=name,
            role=role,
            prefix=prefix,
            secret_hash=hash_token_secret(secret),
            created_by=created_by,
            expires_at=expires_at,
        )
        return token, f"{prefix}.{secret}"

    @property
    def is_usable(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()

    def matches(self, secret: str) -> bool:
        return secrets.compare_digest(self.secret_hash, hash_token_secret(secret))

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at", "updated_at"])
