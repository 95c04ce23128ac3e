"""Admin for teams, memberships, invitations, join requests, roles and object permissions."""

from __future__ import annotations

from django.contrib import admin
from guardian.models import GroupObjectPermission, UserObjectPermission

from .models import IdpGroupMapping, Role, RoleAssignment, Team, TeamInvitation, TeamJoinRequest, TeamMember


class TeamMemberInline(admin.TabularInline):
    """Members shown on the team page."""

    model = TeamMember
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    """Teams with their members inline."""

    list_display = ["name", "slug", "visibility", "is_personal", "max_members", "created_at"]
    list_filter = ["visibility", "is_personal"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["group"]
    inlines = [TeamMemberInline]


@admin.register(TeamInvitation)
class TeamInvitationAdmin(admin.ModelAdmin):
    """Invitations; the token is never shown here."""

    list_display = ["email", "team", "role", "invited_by", "expires_at", "accepted_at", "is_active"]
    list_filter = ["is_active", "role"]
    search_fields = ["email", "team__name"]
    exclude = ["token"]
    readonly_fields = ["invited_by", "invited_at", "accepted_at"]


@admin.register(TeamJoinRequest)
class TeamJoinRequestAdmin(admin.ModelAdmin):
    """Join requests for public teams."""

    list_display = ["user", "team", "status", "requested_at", "reviewed_by"]
    list_filter = ["status"]
    search_fields = ["user__email", "team__name"]


class RoleAssignmentInline(admin.TabularInline):
    """Who holds a role."""

    model = RoleAssignment
    fk_name = "role"
    extra = 0
    autocomplete_fields = ["user", "team"]
    readonly_fields = ["granted_by", "granted_at"]


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    """Roles (built-ins cannot be deleted)."""

    list_display = ["name", "scope", "is_system_role", "updated_at"]
    list_filter = ["scope", "is_system_role"]
    search_fields = ["name", "description"]
    inlines = [RoleAssignmentInline]

    def has_delete_permission(self, request, obj: Role | None = None) -> bool:
        """Built-in roles stay."""
        return not (obj is not None and obj.is_system_role) and super().has_delete_permission(request, obj)


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(admin.ModelAdmin):
    """Role assignments."""

    list_display = ["user", "role", "team", "granted_by", "granted_at", "expires_at", "is_active"]
    list_filter = ["role", "is_active"]
    search_fields = ["user__email", "role__name", "team__name"]
    autocomplete_fields = ["user", "team"]


@admin.register(UserObjectPermission)
class UserObjectPermissionAdmin(admin.ModelAdmin):
    """Objects shared with one user (guardian)."""

    list_display = ["user", "permission", "content_type", "object_pk"]
    list_filter = ["content_type"]
    search_fields = ["user__email", "object_pk"]
    autocomplete_fields = ["user"]


@admin.register(GroupObjectPermission)
class GroupObjectPermissionAdmin(admin.ModelAdmin):
    """Objects shared with a whole team (guardian, through the team's group)."""

    list_display = ["group", "permission", "content_type", "object_pk"]
    list_filter = ["content_type"]
    search_fields = ["group__name", "object_pk"]


@admin.register(IdpGroupMapping)
class IdpGroupMappingAdmin(admin.ModelAdmin):
    """Identity-provider groups → teams and roles, applied at every SSO sign-in."""

    list_display = ["group", "provider", "team", "team_role", "role"]
    list_filter = ["provider", "team_role"]
    search_fields = ["group", "team__name", "role__name"]
    autocomplete_fields = ["team"]
