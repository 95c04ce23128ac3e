"""Request and response shapes of the accounts API (ContextForge's field names)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.accounts.models import ApiToken, User
from apps.accounts.tokens import pending_usage


class EmailLoginSerializer(serializers.Serializer):
    """POST /v1/auth/email/login."""

    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class RegisterSerializer(EmailLoginSerializer):
    """POST /v1/auth/email/register."""

    full_name = serializers.CharField(max_length=255, required=False, allow_blank=True, allow_null=True)


class ChangePasswordSerializer(serializers.Serializer):
    """POST /v1/auth/email/change-password."""

    old_password = serializers.CharField(max_length=1024, trim_whitespace=False)
    new_password = serializers.CharField(max_length=1024, trim_whitespace=False)


class AdminCreateUserSerializer(serializers.Serializer):
    """POST /v1/auth/email/admin/users."""

    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)
    full_name = serializers.CharField(max_length=255, required=False, allow_blank=True, allow_null=True)
    is_admin = serializers.BooleanField(required=False, default=False)
    is_active = serializers.BooleanField(required=False, default=True)
    password_change_required = serializers.BooleanField(required=False, default=False)


class AdminUpdateUserSerializer(serializers.Serializer):
    """PUT/PATCH /v1/auth/email/admin/users/{email}."""

    full_name = serializers.CharField(max_length=255, required=False, allow_blank=True, allow_null=True)
    password = serializers.CharField(max_length=1024, required=False, trim_whitespace=False)
    is_admin = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)
    password_change_required = serializers.BooleanField(required=False)


class EmailUserSerializer(serializers.ModelSerializer):
    """EmailUserResponse."""

    is_admin = serializers.BooleanField(source="is_platform_admin")
    auth_provider = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(source="date_joined")
    email_verified = serializers.SerializerMethodField()
    failed_login_attempts = serializers.IntegerField(source="failed_login_count")
    is_locked = serializers.BooleanField()

    class Meta:
        model = User
        fields = [
            "email",
            "full_name",
            "is_admin",
            "is_active",
            "auth_provider",
            "created_at",
            "last_login",
            "email_verified",
            "password_change_required",
            "failed_login_attempts",
            "locked_until",
            "is_locked",
        ]

    def get_auth_provider(self, user: User) -> str:
        """ "local", or the SSO provider the account came from."""
        account = user.socialaccount_set.first() if hasattr(user, "socialaccount_set") else None
        return account.provider if account is not None else "local"

    def get_email_verified(self, user: User) -> bool:
        """Whether allauth has seen the address verified."""
        return user.emailaddress_set.filter(verified=True).exists() if hasattr(user, "emailaddress_set") else False


class TokenScopeSerializer(serializers.Serializer):
    """TokenScopeRequest (``server_ids`` extends ContextForge's single ``server_id``)."""

    server_id = serializers.CharField(max_length=255, required=False, allow_null=True, allow_blank=True)
    server_ids = serializers.ListField(child=serializers.CharField(max_length=255), required=False, max_length=500)
    permissions = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=200)
    ip_restrictions = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=200)
    time_restrictions = serializers.DictField(required=False)
    usage_limits = serializers.DictField(required=False)

    def to_scopes(self) -> dict[str, Any]:
        """The service's keyword arguments."""
        data = self.validated_data
        servers = list(data.get("server_ids") or [])
        if data.get("server_id"):
            servers.append(data["server_id"])
        return {
            "server_ids": servers,
            "permissions": data.get("permissions") or [],
            "ip_restrictions": data.get("ip_restrictions") or [],
        }


class TokenCreateSerializer(serializers.Serializer):
    """TokenCreateRequest."""

    name = serializers.CharField(max_length=255)
    description = serializers.CharField(max_length=1000, required=False, allow_blank=True, allow_null=True)
    expires_in_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, allow_null=True)
    scope = TokenScopeSerializer(required=False, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=50)
    team_id = serializers.CharField(max_length=64, required=False, allow_null=True, allow_blank=True)


class TokenUpdateSerializer(serializers.Serializer):
    """TokenUpdateRequest."""

    name = serializers.CharField(max_length=255, required=False)
    description = serializers.CharField(max_length=1000, required=False, allow_blank=True, allow_null=True)
    scope = TokenScopeSerializer(required=False, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=50)
    is_active = serializers.BooleanField(required=False)


class TokenRevokeSerializer(serializers.Serializer):
    """TokenRevokeRequest."""

    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, allow_null=True)


class TokenSerializer(serializers.ModelSerializer):
    """TokenResponse: never the secret, never its hash."""

    user_email = serializers.EmailField(source="user.email")
    team_id = serializers.SerializerMethodField()
    server_id = serializers.SerializerMethodField()
    resource_scopes = serializers.ListField(source="permissions")
    time_restrictions = serializers.SerializerMethodField()
    usage_limits = serializers.SerializerMethodField()
    is_revoked = serializers.BooleanField()

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "description",
            "user_email",
            "team_id",
            "server_id",
            "server_ids",
            "resource_scopes",
            "ip_restrictions",
            "time_restrictions",
            "usage_limits",
            "created_at",
            "expires_at",
            "last_used",
            "is_active",
            "is_revoked",
            "revoked_at",
            "revoked_by",
            "revocation_reason",
            "tags",
            "token_prefix",
            "usage_count",
        ]

    def get_team_id(self, token: ApiToken) -> str | None:
        """Team ids are strings on the wire, as in ContextForge."""
        return str(token.team_id) if token.team_id is not None else None

    def get_server_id(self, token: ApiToken) -> str | None:
        """ContextForge's single-server scope: the only server, when exactly one."""
        return token.server_ids[0] if len(token.server_ids) == 1 else None

    def get_time_restrictions(self, token: ApiToken) -> dict:
        """Not supported: always empty."""
        return {}

    def get_usage_limits(self, token: ApiToken) -> dict:
        """Not supported: always empty."""
        return {}

    def to_representation(self, token: ApiToken) -> dict[str, Any]:
        """Usage counts include uses not yet flushed from the cache."""
        data = super().to_representation(token)
        data["usage_count"] = token.usage_count + pending_usage(token.pk)
        return data
