"""REST endpoints of accounts: email sign-in, users (admin), API tokens. Thin: services do the work."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts import services
from apps.accounts.models import ApiToken, User
from apps.accounts.tokens import issue_jwt
from apps.teams.models import Team
from apps.teams.permissions import has_permission
from apps.teams.querysets import visible_teams

from .base import ServiceAPIView, validated
from .permissions import IsPlatformAdmin
from .serializers import (
    AdminCreateUserSerializer,
    AdminUpdateUserSerializer,
    ChangePasswordSerializer,
    EmailLoginSerializer,
    EmailUserSerializer,
    RegisterSerializer,
    TokenCreateSerializer,
    TokenRevokeSerializer,
    TokenScopeSerializer,
    TokenSerializer,
    TokenUpdateSerializer,
)


def _auth_response(user: User) -> dict[str, Any]:
    return {
        "access_token": issue_jwt(user),
        "token_type": "bearer",
        "expires_in": settings.JWT_EXPIRY_MINUTES * 60,
        "user": EmailUserSerializer(user).data,
    }


# --- Email auth -------------------------------------------------------------------


class LoginView(ServiceAPIView):
    """POST /v1/auth/email/login: email + password → JWT (lockout after repeated failures)."""

    serializer_class = EmailLoginSerializer  # OpenAPI hint

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        """Sign in."""
        data = validated(EmailLoginSerializer, request.data)
        try:
            user = services.check_login(data["email"], data["password"])
        except services.LoginFailed as exc:
            message = {
                "locked": "Account is temporarily locked after too many failed sign-ins.",
                "inactive": "Account is disabled.",
            }.get(exc.reason, "Invalid email or password.")
            raise AuthenticationFailed(message) from None
        return Response(_auth_response(user))

    def get_authenticate_header(self, request: Request) -> str:
        """401 answers carry a challenge."""
        return 'Bearer realm="contextforge"'


class RegisterView(ServiceAPIView):
    """POST /v1/auth/email/register: self sign-up, off unless EMAIL_REGISTRATION_ENABLED."""

    serializer_class = RegisterSerializer  # OpenAPI hint

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        """Create an account and sign it in."""
        if not settings.EMAIL_REGISTRATION_ENABLED:
            raise PermissionDenied("Public registration is disabled.")
        data = validated(RegisterSerializer, request.data)
        user = services.create_user(data["email"], data["password"], full_name=data.get("full_name") or "")
        return Response(_auth_response(user), status=status.HTTP_201_CREATED)


class MeView(ServiceAPIView):
    """GET /v1/auth/email/me."""

    serializer_class = EmailUserSerializer  # OpenAPI hint

    def get(self, request: Request) -> Response:
        """The caller's account."""
        return Response(EmailUserSerializer(User.objects.get(pk=self.principal().user_id)).data)


class ChangePasswordView(ServiceAPIView):
    """POST /v1/auth/email/change-password."""

    serializer_class = ChangePasswordSerializer  # OpenAPI hint

    def post(self, request: Request) -> Response:
        """Change one's own password (the old one is required)."""
        data = validated(ChangePasswordSerializer, request.data)
        user = User.objects.get(pk=self.principal().user_id)
        services.change_password(user, data["old_password"], data["new_password"])
        return Response({"success": True, "message": "Password changed."})


# --- Users (platform admins) ------------------------------------------------------


def _user_or_404(email: str) -> User:
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        raise Http404
    return user


class AdminUsersView(ServiceAPIView):
    """GET/POST /v1/auth/email/admin/users."""

    serializer_class = EmailUserSerializer  # OpenAPI hint

    permission_classes = [IsPlatformAdmin]

    @extend_schema(operation_id="v1_auth_email_admin_users_list")
    def get(self, request: Request) -> Response:
        """Every user, optionally paged with limit/offset."""
        users = User.objects.order_by("email")
        limit, offset = _paging(request)
        return Response(EmailUserSerializer(users[offset : offset + limit], many=True).data)

    def post(self, request: Request) -> Response:
        """Create a user."""
        data = validated(AdminCreateUserSerializer, request.data)
        user = services.create_user(
            data["email"],
            data["password"],
            full_name=data.get("full_name") or "",
            is_platform_admin=data["is_admin"],
            password_change_required=data["password_change_required"],
        )
        if not data["is_active"]:
            services.deactivate_user(user)
        return Response(EmailUserSerializer(user).data, status=status.HTTP_201_CREATED)


class AdminUserDetailView(ServiceAPIView):
    """GET/PUT/PATCH/DELETE /v1/auth/email/admin/users/{user_email}."""

    serializer_class = EmailUserSerializer  # OpenAPI hint

    permission_classes = [IsPlatformAdmin]

    def get(self, request: Request, user_email: str) -> Response:
        """One user."""
        return Response(EmailUserSerializer(_user_or_404(user_email)).data)

    def put(self, request: Request, user_email: str) -> Response:
        """Update a user."""
        user = _user_or_404(user_email)
        data = dict(validated(AdminUpdateUserSerializer, request.data))
        if "is_admin" in data:
            data["is_platform_admin"] = data.pop("is_admin")
        if data.get("full_name") is None:
            data.pop("full_name", None)
        if user.pk == self.principal().user_id and (
            data.get("is_platform_admin") is False or data.get("is_active") is False
        ):
            raise services.PermissionDenied("admins cannot demote or deactivate themselves")
        return Response(EmailUserSerializer(services.update_user(user, **data)).data)

    patch = put

    def delete(self, request: Request, user_email: str) -> Response:
        """Delete a user (not oneself)."""
        user = _user_or_404(user_email)
        if user.pk == self.principal().user_id:
            raise services.PermissionDenied("admins cannot delete themselves")
        services.delete_user(user)
        return Response({"success": True, "message": f"User {user_email} deleted."})


class AdminUnlockView(ServiceAPIView):
    """POST /v1/auth/email/admin/users/{user_email}/unlock."""

    serializer_class = EmailUserSerializer  # OpenAPI hint

    permission_classes = [IsPlatformAdmin]

    def post(self, request: Request, user_email: str) -> Response:
        """Lift a lockout."""
        services.unlock_user(_user_or_404(user_email))
        return Response({"success": True, "message": f"User {user_email} unlocked."})


# --- API tokens ---------------------------------------------------------------------


def _paging(request: Request) -> tuple[int, int]:
    try:
        limit = max(1, min(int(request.query_params.get("limit", 50)), 500))
        offset = max(0, int(request.query_params.get("offset", 0)))
    except ValueError:
        from django.core.exceptions import ValidationError

        raise ValidationError({"limit": ["limit and offset must be integers."]}) from None
    return limit, offset


def _token_list(request: Request, tokens: QuerySet) -> Response:
    limit, offset = _paging(request)
    page = tokens.select_related("user")[offset : offset + limit]
    return Response(
        {"tokens": TokenSerializer(page, many=True).data, "total": tokens.count(), "limit": limit, "offset": offset}
    )


def _team_or_404(view: ServiceAPIView, team_id: Any) -> Team:
    team = None
    if str(team_id).isdigit():
        team = visible_teams(view.principal()).filter(pk=int(team_id)).first()
    if team is None:
        raise Http404
    return team


class TokensView(ServiceAPIView):
    """GET/POST /v1/tokens: the caller's own API tokens."""

    serializer_class = TokenCreateSerializer  # OpenAPI hint

    team_scoped = False

    def _require(self, permission: str, team: Team | None = None) -> None:
        if not has_permission(self.principal(), permission, team=team):
            raise services.PermissionDenied(permission)

    @extend_schema(operation_id="v1_tokens_list")
    def get(self, request: Request, team_id: str | None = None) -> Response:
        """List tokens: one's own, or (per team) the team's tokens visible to the caller."""
        principal = self.principal()
        tokens = ApiToken.objects.all()
        if team_id is not None:
            team = _team_or_404(self, team_id)
            tokens = tokens.filter(team=team)
            if not has_permission(principal, "teams.manage", team=team):
                tokens = tokens.filter(user_id=principal.user_id)
        else:
            self._require("tokens.read")
            tokens = tokens.filter(user_id=principal.user_id)
        if request.query_params.get("include_inactive", "false").lower() != "true":
            tokens = tokens.filter(is_active=True, revoked_at__isnull=True)
        return _token_list(request, tokens)

    def post(self, request: Request, team_id: str | None = None) -> Response:
        """Mint a token; the secret is in ``access_token`` and never shown again."""
        principal = self.principal()
        data = validated(TokenCreateSerializer, request.data)
        team_ref = team_id if team_id is not None else data.get("team_id")
        team = _team_or_404(self, team_ref) if team_ref else None
        self._require("tokens.create", team)
        scopes: dict[str, Any] = {}
        if data.get("scope") is not None:
            scope = TokenScopeSerializer(data=request.data.get("scope"))
            scope.is_valid(raise_exception=True)
            scopes = scope.to_scopes()
        token, secret = services.create_api_token(
            User.objects.get(pk=principal.user_id),
            name=data["name"],
            description=data.get("description") or "",
            expires_in_days=data.get("expires_in_days"),
            team=team,
            tags=data.get("tags"),
            within=principal,
            **scopes,
        )
        return Response({"token": TokenSerializer(token).data, "access_token": secret}, status=status.HTTP_201_CREATED)


def _own_token_or_404(view: ServiceAPIView, token_id: str) -> ApiToken:
    token = ApiToken.objects.select_related("user").filter(pk=token_id, user_id=view.principal().user_id).first()
    if token is None:
        raise Http404
    return token


class TeamTokensView(TokensView):
    """GET/POST /v1/tokens/teams/{team_id}: a team's API tokens."""

    @extend_schema(operation_id="v1_tokens_teams_list")
    def get(self, request: Request, team_id: str | None = None) -> Response:
        """The team's tokens visible to the caller."""
        return super().get(request, team_id)


class TokenDetailView(ServiceAPIView):
    """GET/PUT/DELETE /v1/tokens/{token_id} (the caller's own tokens only)."""

    serializer_class = TokenSerializer  # OpenAPI hint

    def get(self, request: Request, token_id: str) -> Response:
        """One token (never its secret)."""
        return Response(TokenSerializer(_own_token_or_404(self, token_id)).data)

    def put(self, request: Request, token_id: str) -> Response:
        """Rename, re-describe, re-scope or (de)activate."""
        token = _own_token_or_404(self, token_id)
        if not has_permission(self.principal(), "tokens.update"):
            raise services.PermissionDenied("tokens.update")
        data = dict(validated(TokenUpdateSerializer, request.data))
        scope = data.pop("scope", None)
        if scope is not None:
            serializer = TokenScopeSerializer(data=request.data.get("scope"))
            serializer.is_valid(raise_exception=True)
            data.update(serializer.to_scopes())
            if self.principal().scope_permissions is not None or self.principal().scope_server_ids is not None:
                raise services.PermissionDenied("a narrowed credential cannot re-scope tokens")
        return Response(TokenSerializer(services.update_api_token(token, **data)).data)

    def delete(self, request: Request, token_id: str) -> Response:
        """Revoke."""
        token = _own_token_or_404(self, token_id)
        if not has_permission(self.principal(), "tokens.revoke"):
            raise services.PermissionDenied("tokens.revoke")
        reason = (validated(TokenRevokeSerializer, request.data or {}).get("reason")) or ""
        services.revoke_api_token(token, revoked_by=self.principal().email, reason=reason)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenUsageView(ServiceAPIView):
    """GET /v1/tokens/{token_id}/usage."""

    serializer_class = TokenSerializer  # OpenAPI hint

    def get(self, request: Request, token_id: str) -> Response:
        """Usage counters of one of one's tokens."""
        from apps.accounts.tokens import pending_usage

        token = _own_token_or_404(self, token_id)
        days = request.query_params.get("days", "30")
        total = token.usage_count + pending_usage(token.pk)
        return Response(
            {
                "period_days": int(days) if days.isdigit() and len(days) < 5 else 30,
                "total_requests": total,
                "successful_requests": total,
                "blocked_requests": 0,
                "success_rate": 1.0 if total else 0.0,
                "average_response_time_ms": 0.0,
                "top_endpoints": [],
                "last_used": token.last_used,
                "last_used_ip": token.last_used_ip,
            }
        )


class AdminTokensView(ServiceAPIView):
    """GET /v1/tokens/admin/all."""

    serializer_class = TokenSerializer  # OpenAPI hint

    permission_classes = [IsPlatformAdmin]

    def get(self, request: Request) -> Response:
        """Every token of every user."""
        tokens = ApiToken.objects.all()
        if request.query_params.get("include_inactive", "false").lower() != "true":
            tokens = tokens.filter(is_active=True, revoked_at__isnull=True)
        return _token_list(request, tokens)


class AdminTokenRevokeView(ServiceAPIView):
    """DELETE /v1/tokens/admin/{token_id}."""

    serializer_class = TokenRevokeSerializer  # OpenAPI hint

    permission_classes = [IsPlatformAdmin]

    def delete(self, request: Request, token_id: str) -> Response:
        """Revoke anybody's token."""
        token = ApiToken.objects.filter(pk=token_id).first()
        if token is None:
            raise Http404
        reason = (validated(TokenRevokeSerializer, request.data or {}).get("reason")) or ""
        services.revoke_api_token(token, revoked_by=self.principal().email, reason=reason)
        return Response(status=status.HTTP_204_NO_CONTENT)
