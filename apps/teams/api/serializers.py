"""Request and response shapes of the teams and RBAC API (ContextForge's field names)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.teams.models import Role, RoleAssignment, Team, TeamInvitation, TeamJoinRequest, TeamMember


@extend_schema_field(OpenApiTypes.STR)
class StrId(serializers.Field):
    """Ids travel as strings, as in ContextForge."""

    def to_representation(self, value: object) -> str | None:
        return None if value is None else str(value)


class TeamCreateSerializer(serializers.Serializer):
    """TeamCreateRequest."""

    name = serializers.CharField(max_length=255)
    slug = serializers.SlugField(max_length=255, required=False, allow_null=True, allow_blank=True)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True, allow_null=True)
    visibility = serializers.ChoiceField(choices=Team.TeamVisibility.values, required=False)
    max_members = serializers.IntegerField(min_value=1, required=False, allow_null=True)


class TeamUpdateSerializer(serializers.Serializer):
    """TeamUpdateRequest."""

    name = serializers.CharField(max_length=255, required=False)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True, allow_null=True)
    visibility = serializers.ChoiceField(choices=Team.TeamVisibility.values, required=False)
    max_members = serializers.IntegerField(min_value=1, required=False, allow_null=True)


class TeamSerializer(serializers.ModelSerializer):
    """TeamResponse."""

    id = StrId()
    created_by = serializers.SerializerMethodField()
    member_count = serializers.SerializerMethodField()
    is_active = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "created_by",
            "is_personal",
            "visibility",
            "max_members",
            "member_count",
            "created_at",
            "updated_at",
            "is_active",
        ]

    def get_created_by(self, team: Team) -> str:
        """The creator's email."""
        return team.created_by.email if team.created_by_id else ""

    def get_member_count(self, team: Team) -> int:
        """Members now."""
        return getattr(team, "member_count", None) or team.memberships.count()

    def get_is_active(self, team: Team) -> bool:
        """Teams are deleted, not deactivated."""
        return True


class TeamDiscoverySerializer(TeamSerializer):
    """TeamDiscoveryResponse."""

    is_joinable = serializers.SerializerMethodField()

    class Meta(TeamSerializer.Meta):
        fields = ["id", "name", "description", "member_count", "created_at", "is_joinable"]

    def get_is_joinable(self, team: Team) -> bool:
        """Public and not full."""
        return team.max_members is None or self.get_member_count(team) < team.max_members


class MemberAddSerializer(serializers.Serializer):
    """TeamMemberAddRequest / TeamInviteRequest."""

    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=TeamMember.Role.values, required=False, default=TeamMember.Role.MEMBER)


class MemberUpdateSerializer(serializers.Serializer):
    """TeamMemberUpdateRequest."""

    role = serializers.ChoiceField(choices=TeamMember.Role.values)


class TeamMemberSerializer(serializers.ModelSerializer):
    """TeamMemberResponse."""

    id = StrId()
    team_id = StrId()
    user_email = serializers.EmailField(source="user.email")
    is_active = serializers.SerializerMethodField()

    class Meta:
        model = TeamMember
        fields = ["id", "team_id", "user_email", "role", "joined_at", "is_active"]

    def get_is_active(self, membership: TeamMember) -> bool:
        """Memberships are deleted, not deactivated."""
        return True


class InvitationSerializer(serializers.ModelSerializer):
    """TeamInvitationResponse."""

    id = StrId()
    team_id = StrId()
    team_name = serializers.CharField(source="team.name")
    invited_by = serializers.SerializerMethodField()
    is_expired = serializers.BooleanField()

    class Meta:
        model = TeamInvitation
        fields = [
            "id",
            "team_id",
            "team_name",
            "email",
            "role",
            "invited_by",
            "invited_at",
            "expires_at",
            "token",
            "is_active",
            "is_expired",
        ]

    def get_invited_by(self, invitation: TeamInvitation) -> str:
        """The inviter's email."""
        return invitation.invited_by.email if invitation.invited_by_id else ""


class JoinSerializer(serializers.Serializer):
    """TeamJoinRequest (the request body)."""

    message = serializers.CharField(max_length=1000, required=False, allow_blank=True, allow_null=True)


class JoinRequestSerializer(serializers.ModelSerializer):
    """TeamJoinRequestResponse."""

    id = StrId()
    team_id = StrId()
    team_name = serializers.CharField(source="team.name")
    user_email = serializers.EmailField(source="user.email")

    class Meta:
        model = TeamJoinRequest
        fields = ["id", "team_id", "team_name", "user_email", "message", "status", "requested_at"]


class RoleWriteSerializer(serializers.Serializer):
    """RoleCreateRequest / RoleUpdateRequest."""

    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True, allow_null=True)
    scope = serializers.ChoiceField(choices=Role.Scope.values, required=False)
    permissions = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=500)


class RoleSerializer(serializers.ModelSerializer):
    """RoleResponse."""

    id = StrId()
    created_by = serializers.SerializerMethodField()
    effective_permissions = serializers.ListField(source="permissions")
    inherits_from = serializers.SerializerMethodField()
    is_active = serializers.SerializerMethodField()

    class Meta:
        model = Role
        fields = [
            "id",
            "name",
            "description",
            "scope",
            "permissions",
            "effective_permissions",
            "inherits_from",
            "created_by",
            "is_system_role",
            "is_active",
            "created_at",
            "updated_at",
        ]

    def get_created_by(self, role: Role) -> str:
        """Creator email, or "system" for built-ins."""
        return role.created_by.email if role.created_by_id else "system"

    def get_inherits_from(self, role: Role) -> str | None:
        """Role inheritance is not modelled."""
        return None

    def get_is_active(self, role: Role) -> bool:
        """Roles are deleted, not deactivated."""
        return True


class RoleAssignSerializer(serializers.Serializer):
    """UserRoleAssignRequest."""

    role_id = serializers.CharField(max_length=64)
    scope = serializers.ChoiceField(choices=Role.Scope.values)
    scope_id = serializers.CharField(max_length=64, required=False, allow_null=True, allow_blank=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class UserRoleSerializer(serializers.ModelSerializer):
    """UserRoleResponse."""

    id = StrId()
    user_email = serializers.EmailField(source="user.email")
    role_id = StrId()
    role_name = serializers.CharField(source="role.name")
    scope = serializers.CharField(source="role.scope")
    scope_id = StrId(source="team_id")
    granted_by = serializers.SerializerMethodField()

    class Meta:
        model = RoleAssignment
        fields = [
            "id",
            "user_email",
            "role_id",
            "role_name",
            "scope",
            "scope_id",
            "granted_by",
            "granted_at",
            "expires_at",
            "is_active",
        ]

    def get_granted_by(self, assignment: RoleAssignment) -> str:
        """Granter email, or "system"."""
        return assignment.granted_by.email if assignment.granted_by_id else "system"


class PermissionCheckSerializer(serializers.Serializer):
    """PermissionCheckRequest."""

    user_email = serializers.EmailField(max_length=254)
    permission = serializers.CharField(max_length=100)
    resource_type = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)
    resource_id = serializers.CharField(max_length=255, required=False, allow_null=True, allow_blank=True)
    team_id = serializers.CharField(max_length=64, required=False, allow_null=True, allow_blank=True)
