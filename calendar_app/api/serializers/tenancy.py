"""Workspaces, members and API tokens."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers

from calendar_app.api.serializers.common import (
    InstantField,
    KairosModelSerializer,
    ShownOnceField,
)
from calendar_app.models import ApiToken, Membership, Role, Workspace
from calendar_app.token_policy import TokenRefused, check_issue, member_named


class WorkspaceSerializer(KairosModelSerializer):
    role = serializers.SerializerMethodField(help_text="Your role in this workspace.")

    class Meta:
        model = Workspace
        fields = ["id", "name", "slug", "role", "created_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Role.choices, allow_null=True))
    def get_role(self, workspace: Workspace) -> str | None:
        return self.context.get("roles", {}).get(workspace.pk)


class MemberSerializer(KairosModelSerializer):
    username = serializers.CharField(
        source="user.username", max_length=150, help_text="An existing user's username."
    )
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "username", "email", "role", "created_at", "updated_at"]
        read_only_fields = ["id", "email", "created_at", "updated_at"]

    def validate_username(self, value: str) -> str:
        if self.instance is not None and value != self.instance.user.username:
            raise serializers.ValidationError(
                "A membership's user cannot change; add a new member."
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None:
            username = attrs.pop("user", {}).get("username")
            user = get_user_model().objects.filter(username=username, is_active=True).first()
            if user is None:
                raise serializers.ValidationError(
                    {"username": ["No active user with this username."]}
                )
            workspace = self.context["request"].workspace
            if Membership.objects.filter(workspace=workspace, user=user).exists():
                raise serializers.ValidationError(
                    {"username": ["Already a member of this workspace."]}
                )
            attrs["user"] = user
        else:
            attrs.pop("user", None)
        return attrs


class ApiTokenSerializer(KairosModelSerializer):
    """A token as listed: the prefix identifies it; the secret is never shown again."""

    username = serializers.CharField(
        source="user.username",
        required=False,
        allow_null=True,
        default=None,
        help_text="Your own username for a personal token (it acts as you, with at most your "
        "role); empty for a workspace API key (admins only; it acts as itself). Nobody creates "
        "a token for another person.",
    )
    expires_at = InstantField(required=False, allow_null=True)
    role = serializers.ChoiceField(
        choices=Role.choices,
        default=Role.VIEWER,
        help_text="At most your own role. A personal token acts with the lower of this role and "
        "its person's current role.",
    )

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "role",
            "username",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "created_at",
        ]
        read_only_fields = ["id", "prefix", "last_used_at", "revoked_at", "created_at"]

    def validate_expires_at(self, value: Any) -> Any:
        from django.utils import timezone

        if value is not None and value.tzinfo is None:
            raise serializers.ValidationError(
                "Give the expiry with an offset, e.g. 2027-01-01T00:00:00Z."
            )
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("The expiry must be in the future.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Apply :mod:`calendar_app.token_policy`: who may create a token for whom."""
        request = self.context["request"]
        username = (attrs.pop("user", None) or {}).get("username")
        try:
            attrs["user"] = member_named(request.workspace, username) if username else None
            check_issue(request.actor, user=attrs["user"], role=attrs.get("role", Role.VIEWER))
        except TokenRefused as refused:
            if refused.code == "permission_denied":
                raise exceptions.PermissionDenied(refused.message, code=refused.code) from None
            raise serializers.ValidationError(
                {refused.field: [serializers.ErrorDetail(refused.message, code=refused.code)]}
            ) from None
        return attrs


class IssuedTokenSerializer(ApiTokenSerializer):
    token = ShownOnceField(
        help_text="The full token. Shown once: store it now, it cannot be read again. `null` "
        "in an answer replayed for a repeated `Idempotency-Key` (`Idempotent-Redacted: token`): "
        "the clear text is never kept.",
    )

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
