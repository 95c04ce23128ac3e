"""REST endpoints of teams and RBAC. Thin: visibility from querysets, rules in services."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.api.base import ServiceAPIView, validated
from apps.accounts.principal import Principal
from apps.accounts.services import PermissionDenied
from apps.teams import services
from apps.teams.models import Role, RoleAssignment, Team, TeamInvitation, TeamJoinRequest, TeamMember
from apps.teams.permissions import effective_permissions, has_permission
from apps.teams.principals import principal_for_user
from apps.teams.querysets import visible_teams
from apps.teams.rbac import PERMISSIONS, matches

from .serializers import (
    InvitationSerializer,
    JoinRequestSerializer,
    JoinSerializer,
    MemberAddSerializer,
    MemberUpdateSerializer,
    PermissionCheckSerializer,
    RoleAssignSerializer,
    RoleSerializer,
    RoleWriteSerializer,
    TeamCreateSerializer,
    TeamDiscoverySerializer,
    TeamMemberSerializer,
    TeamSerializer,
    TeamUpdateSerializer,
    UserRoleSerializer,
)

User = get_user_model()


def _int_or_404(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404 from None


def visible_team(principal: Principal, team_id: Any) -> Team:
    """A team the principal may see, or 404 (absent and invisible look the same)."""
    team = visible_teams(principal).filter(pk=_int_or_404(team_id)).first()
    if team is None:
        raise Http404
    return team


def _require(principal: Principal, permission: str, team: Team | None = None) -> None:
    if not has_permission(principal, permission, team=team):
        raise PermissionDenied(permission)


def _ok(message: str) -> Response:
    return Response({"success": True, "message": message})


# --- Teams ------------------------------------------------------------------------


class TeamsView(ServiceAPIView):
    """GET/POST /v1/teams/."""

    serializer_class = TeamSerializer  # OpenAPI hint

    @extend_schema(operation_id="v1_teams_list")
    def get(self, request: Request) -> Response:
        """The caller's teams (every team for platform admins)."""
        principal = self.principal()
        teams = visible_teams(principal)
        if not principal.is_platform_admin or principal.scope_team_id is not None:
            teams = teams.filter(memberships__user_id=principal.user_id)
        teams = teams.annotate(member_count=Count("memberships", distinct=True)).order_by("name")
        data = TeamSerializer(teams, many=True).data
        return Response({"teams": data, "total": len(data)})

    def post(self, request: Request) -> Response:
        """Create a team owned by the caller."""
        data = validated(TeamCreateSerializer, request.data)
        data = {k: v for k, v in data.items() if v is not None}
        team = services.create_team(self.principal(), **data)
        return Response(TeamSerializer(team).data, status=status.HTTP_201_CREATED)


class DiscoverView(ServiceAPIView):
    """GET /v1/teams/discover: public teams the caller is not in."""

    serializer_class = TeamDiscoverySerializer  # OpenAPI hint

    def get(self, request: Request) -> Response:
        """Public, non-personal teams to join."""
        principal = self.principal()
        teams = (
            Team.objects.filter(visibility=Team.TeamVisibility.PUBLIC, is_personal=False)
            .exclude(memberships__user_id=principal.user_id)
            .annotate(member_count=Count("memberships", distinct=True))
            .order_by("name")
        )
        return Response(TeamDiscoverySerializer(teams, many=True).data)


class TeamDetailView(ServiceAPIView):
    """GET/PUT/DELETE /v1/teams/{team_id}."""

    serializer_class = TeamSerializer  # OpenAPI hint

    def get(self, request: Request, team_id: str) -> Response:
        """One visible team."""
        return Response(TeamSerializer(visible_team(self.principal(), team_id)).data)

    def put(self, request: Request, team_id: str) -> Response:
        """Update (teams.update in the team)."""
        team = visible_team(self.principal(), team_id)
        data = validated(TeamUpdateSerializer, request.data)
        if data.get("description", "") is None:
            data["description"] = ""
        return Response(TeamSerializer(services.update_team(self.principal(), team, **data)).data)

    def delete(self, request: Request, team_id: str) -> Response:
        """Delete (teams.delete in the team)."""
        team = visible_team(self.principal(), team_id)
        services.delete_team(self.principal(), team)
        return _ok(f"Team {team.name} deleted.")


class MembersView(ServiceAPIView):
    """GET/POST /v1/teams/{team_id}/members."""

    serializer_class = TeamMemberSerializer  # OpenAPI hint

    def get(self, request: Request, team_id: str) -> Response:
        """Members (teams.read in the team)."""
        team = visible_team(self.principal(), team_id)
        _require(self.principal(), "teams.read", team)
        members = team.memberships.select_related("user").order_by("user__email")
        return Response(TeamMemberSerializer(members, many=True).data)

    def post(self, request: Request, team_id: str) -> Response:
        """Add an existing user directly (teams.manage)."""
        team = visible_team(self.principal(), team_id)
        data = validated(MemberAddSerializer, request.data)
        _require(self.principal(), "teams.manage", team)
        user = User.objects.filter(email__iexact=data["email"]).first()
        if user is None:
            from django.core.exceptions import ValidationError

            raise ValidationError({"email": ["No user with this email."]})
        membership = services.add_member(self.principal(), team, user, data["role"])
        return Response(TeamMemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailView(ServiceAPIView):
    """PUT/DELETE /v1/teams/{team_id}/members/{user_email}."""

    serializer_class = TeamMemberSerializer  # OpenAPI hint

    def _membership(self, team_id: str, user_email: str) -> TeamMember:
        team = visible_team(self.principal(), team_id)
        _require(self.principal(), "teams.manage", team)
        membership = team.memberships.select_related("user", "team").filter(user__email__iexact=user_email).first()
        if membership is None:
            raise Http404
        return membership

    def put(self, request: Request, team_id: str, user_email: str) -> Response:
        """Change a member's role."""
        membership = self._membership(team_id, user_email)
        data = validated(MemberUpdateSerializer, request.data)
        membership = services.update_member_role(self.principal(), membership, data["role"])
        return Response(TeamMemberSerializer(membership).data)

    def delete(self, request: Request, team_id: str, user_email: str) -> Response:
        """Remove a member."""
        services.remove_member(self.principal(), self._membership(team_id, user_email))
        return _ok(f"{user_email} removed.")


class InvitationsView(ServiceAPIView):
    """GET/POST /v1/teams/{team_id}/invitations."""

    serializer_class = InvitationSerializer  # OpenAPI hint

    def get(self, request: Request, team_id: str) -> Response:
        """Invitations of a team (teams.manage)."""
        team = visible_team(self.principal(), team_id)
        _require(self.principal(), "teams.manage", team)
        invitations = team.invitations.select_related("team", "invited_by")
        return Response(InvitationSerializer(invitations, many=True).data)

    def post(self, request: Request, team_id: str) -> Response:
        """Invite by email (teams.manage); the token in the answer is the single-use secret."""
        team = visible_team(self.principal(), team_id)
        data = validated(MemberAddSerializer, request.data)
        invitation = services.invite(self.principal(), team, data["email"], data["role"])
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


class AcceptInvitationView(ServiceAPIView):
    """POST /v1/teams/invitations/{token}/accept."""

    serializer_class = TeamMemberSerializer  # OpenAPI hint

    def post(self, request: Request, token: str) -> Response:
        """Join through an invitation addressed to the caller."""
        membership = services.accept_invitation(self.principal(), token)
        return Response(TeamMemberSerializer(membership).data)


class InvitationDetailView(ServiceAPIView):
    """DELETE /v1/teams/invitations/{invitation_id}."""

    serializer_class = InvitationSerializer  # OpenAPI hint

    def delete(self, request: Request, invitation_id: str) -> Response:
        """Cancel an invitation (teams.manage in its team)."""
        invitation = TeamInvitation.objects.select_related("team").filter(pk=_int_or_404(invitation_id)).first()
        if invitation is None or not visible_teams(self.principal()).filter(pk=invitation.team_id).exists():
            raise Http404
        services.cancel_invitation(self.principal(), invitation)
        return _ok("Invitation cancelled.")


class JoinView(ServiceAPIView):
    """POST /v1/teams/{team_id}/join."""

    serializer_class = JoinRequestSerializer  # OpenAPI hint

    def post(self, request: Request, team_id: str) -> Response:
        """Ask to join a public team."""
        team = visible_team(self.principal(), team_id)
        data = validated(JoinSerializer, request.data or {})
        join = services.request_join(self.principal(), team, data.get("message") or "")
        return Response(JoinRequestSerializer(join).data)


class LeaveView(ServiceAPIView):
    """DELETE /v1/teams/{team_id}/leave."""

    serializer_class = TeamMemberSerializer  # OpenAPI hint

    def delete(self, request: Request, team_id: str) -> Response:
        """Leave a team."""
        team = visible_team(self.principal(), team_id)
        services.leave_team(self.principal(), team)
        return _ok(f"Left {team.name}.")


class JoinRequestsView(ServiceAPIView):
    """GET /v1/teams/{team_id}/join-requests."""

    serializer_class = JoinRequestSerializer  # OpenAPI hint

    def get(self, request: Request, team_id: str) -> Response:
        """Pending requests (teams.manage)."""
        team = visible_team(self.principal(), team_id)
        _require(self.principal(), "teams.manage", team)
        pending = team.join_requests.filter(status=TeamJoinRequest.Status.PENDING).select_related("team", "user")
        return Response(JoinRequestSerializer(pending, many=True).data)


def _join_request(view: ServiceAPIView, team_id: str, request_id: str) -> TeamJoinRequest:
    team = visible_team(view.principal(), team_id)
    join = team.join_requests.select_related("team", "user").filter(pk=_int_or_404(request_id)).first()
    if join is None:
        raise Http404
    return join


class ApproveJoinView(ServiceAPIView):
    """POST /v1/teams/{team_id}/join-requests/{request_id}/approve."""

    serializer_class = TeamMemberSerializer  # OpenAPI hint

    def post(self, request: Request, team_id: str, request_id: str) -> Response:
        """Approve: the requester becomes a member."""
        membership = services.approve_join_request(self.principal(), _join_request(self, team_id, request_id))
        return Response(TeamMemberSerializer(membership).data)


class JoinRequestDetailView(ServiceAPIView):
    """DELETE /v1/teams/{team_id}/join-requests/{request_id}: reject."""

    serializer_class = JoinRequestSerializer  # OpenAPI hint

    def delete(self, request: Request, team_id: str, request_id: str) -> Response:
        """Reject a pending request."""
        services.reject_join_request(self.principal(), _join_request(self, team_id, request_id))
        return _ok("Join request rejected.")


# --- RBAC -------------------------------------------------------------------------


def _role_or_404(role_id: str) -> Role:
    role = Role.objects.filter(pk=_int_or_404(role_id)).first()
    if role is None:
        raise Http404
    return role


class RolesView(ServiceAPIView):
    """GET/POST /v1/rbac/roles."""

    serializer_class = RoleSerializer  # OpenAPI hint

    @extend_schema(operation_id="v1_rbac_roles_list")
    def get(self, request: Request) -> Response:
        """Every role (any signed-in caller may read the catalogue of roles)."""
        return Response(RoleSerializer(Role.objects.select_related("created_by"), many=True).data)

    def post(self, request: Request) -> Response:
        """Create a custom role (admin.roles)."""
        data = validated(RoleWriteSerializer, request.data)
        missing = [f for f in ("name", "scope", "permissions") if f not in data]
        if missing:
            from django.core.exceptions import ValidationError

            raise ValidationError({f: ["This field is required."] for f in missing})
        role = services.create_role(
            self.principal(),
            name=data["name"],
            scope=data["scope"],
            permissions=data["permissions"],
            description=data.get("description") or "",
        )
        return Response(RoleSerializer(role).data, status=status.HTTP_201_CREATED)


class RoleDetailView(ServiceAPIView):
    """GET/PUT/DELETE /v1/rbac/roles/{role_id}."""

    serializer_class = RoleSerializer  # OpenAPI hint

    def get(self, request: Request, role_id: str) -> Response:
        """One role."""
        return Response(RoleSerializer(_role_or_404(role_id)).data)

    def put(self, request: Request, role_id: str) -> Response:
        """Update (admin.roles)."""
        role = _role_or_404(role_id)
        data = dict(validated(RoleWriteSerializer, request.data))
        if "scope" in data and data.pop("scope") != role.scope:
            from django.core.exceptions import ValidationError

            raise ValidationError({"scope": ["The scope of a role cannot change."]})
        return Response(RoleSerializer(services.update_role(self.principal(), role, **data)).data)

    def delete(self, request: Request, role_id: str) -> Response:
        """Delete a custom role (admin.roles)."""
        services.delete_role(self.principal(), _role_or_404(role_id))
        return _ok("Role deleted.")


def _user_for_rbac(view: ServiceAPIView, email: str) -> Any:
    """The user whose roles are read: oneself, or anyone for holders of admin.roles (404 otherwise)."""
    principal = view.principal()
    user = User.objects.filter(email__iexact=email).first()
    if user is None or (user.pk != principal.user_id and not has_permission(principal, "admin.roles")):
        raise Http404
    return user


class UserRolesView(ServiceAPIView):
    """GET/POST /v1/rbac/users/{user_email}/roles."""

    serializer_class = UserRoleSerializer  # OpenAPI hint

    def get(self, request: Request, user_email: str) -> Response:
        """A user's role assignments."""
        user = _user_for_rbac(self, user_email)
        assignments = RoleAssignment.objects.filter(user=user).select_related("user", "role", "granted_by")
        return Response(UserRoleSerializer(assignments, many=True).data)

    def post(self, request: Request, user_email: str) -> Response:
        """Assign a role (admin.roles; team managers for team roles in their team)."""
        principal = self.principal()
        user = User.objects.filter(email__iexact=user_email).first()
        if user is None:
            raise Http404
        data = validated(RoleAssignSerializer, request.data)
        role = _role_or_404(data["role_id"])
        if role.scope != data["scope"]:
            from django.core.exceptions import ValidationError

            raise ValidationError({"scope": [f"Role {role.name} has scope {role.scope}."]})
        team = visible_team(principal, data["scope_id"]) if data.get("scope_id") else None
        assignment = services.assign_role(principal, user, role, team, expires_at=data.get("expires_at"))
        return Response(UserRoleSerializer(assignment).data)


class UserRoleDetailView(ServiceAPIView):
    """DELETE /v1/rbac/users/{user_email}/roles/{role_id}[?scope_id=team]."""

    serializer_class = UserRoleSerializer  # OpenAPI hint

    def delete(self, request: Request, user_email: str, role_id: str) -> Response:
        """Revoke a role assignment."""
        user = _user_for_rbac(self, user_email)
        assignments = RoleAssignment.objects.filter(user=user, role_id=_int_or_404(role_id)).select_related("team")
        scope_id = request.query_params.get("scope_id")
        assignments = assignments.filter(team_id=_int_or_404(scope_id)) if scope_id else assignments
        assignment = assignments.first()
        if assignment is None:
            raise Http404
        services.revoke_role(self.principal(), assignment)
        return _ok("Role revoked.")


def _permissions_of(principal: Principal) -> list[str]:
    """Concrete permissions a principal holds anywhere, after token narrowing."""
    if principal.is_platform_admin:
        held: list[str] = list(PERMISSIONS)
    else:
        granted = effective_permissions(principal)
        held = [p for p in PERMISSIONS if matches(granted, p)]
    if principal.scope_permissions is not None:
        held = [p for p in held if matches(principal.scope_permissions, p)]
    return held


class PermissionCheckView(ServiceAPIView):
    """POST /v1/rbac/permissions/check."""

    serializer_class = PermissionCheckSerializer  # OpenAPI hint

    def post(self, request: Request) -> Response:
        """Ask the permission service about oneself (or anyone, with admin.roles)."""
        data = validated(PermissionCheckSerializer, request.data)
        user = _user_for_rbac(self, data["user_email"])
        caller = self.principal()
        subject = caller if user.pk == caller.user_id else principal_for_user(user, auth_method="check")
        team = data.get("team_id") or None
        granted = has_permission(subject, data["permission"], team=_int_or_404(team) if team else None)
        return Response(
            {
                "user_email": user.email,
                "permission": data["permission"],
                "granted": granted,
                "checked_at": timezone.now(),
                "checked_by": caller.email,
            }
        )


class UserPermissionsView(ServiceAPIView):
    """GET /v1/rbac/permissions/user/{user_email}."""

    serializer_class = PermissionCheckSerializer  # OpenAPI hint

    def get(self, request: Request, user_email: str) -> Response:
        """Permissions a user holds anywhere."""
        user = _user_for_rbac(self, user_email)
        caller = self.principal()
        subject = caller if user.pk == caller.user_id else principal_for_user(user, auth_method="check")
        return Response(_permissions_of(subject))


class AvailablePermissionsView(ServiceAPIView):
    """GET /v1/rbac/permissions/available."""

    serializer_class = PermissionCheckSerializer  # OpenAPI hint

    def get(self, request: Request) -> Response:
        """The permission catalogue."""
        by_resource: dict[str, list[str]] = {}
        for permission in PERMISSIONS:
            by_resource.setdefault(permission.split(".", 1)[0], []).append(permission)
        return Response(
            {
                "all_permissions": list(PERMISSIONS),
                "permissions_by_resource": by_resource,
                "total_count": len(PERMISSIONS),
            }
        )


class MyRolesView(ServiceAPIView):
    """GET /v1/rbac/my/roles."""

    serializer_class = UserRoleSerializer  # OpenAPI hint

    def get(self, request: Request) -> Response:
        """The caller's role assignments."""
        assignments = RoleAssignment.objects.filter(user_id=self.principal().user_id).select_related(
            "user", "role", "granted_by"
        )
        return Response(UserRoleSerializer(assignments, many=True).data)


class MyPermissionsView(ServiceAPIView):
    """GET /v1/rbac/my/permissions."""

    serializer_class = PermissionCheckSerializer  # OpenAPI hint

    def get(self, request: Request) -> Response:
        """Permissions the caller's credential holds anywhere."""
        return Response(_permissions_of(self.principal()))
