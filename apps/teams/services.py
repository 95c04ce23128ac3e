"""Writes to teams, memberships, invitations, join requests, roles and object shares.

One function per action; each runs in a transaction and checks the actor's permission
through the one permission service. ``PermissionDenied`` means the actor can see the
target but may not change it; callers that must hide existence check visibility first.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.accounts.principal import Principal
from apps.accounts.services import PermissionDenied

from .models import Role, RoleAssignment, Team, TeamInvitation, TeamJoinRequest, TeamMember
from .permissions import has_permission
from .rbac import is_known_permission

__all__ = [
    "accept_invitation",
    "add_member",
    "approve_join_request",
    "assign_role",
    "cancel_invitation",
    "create_personal_team",
    "create_role",
    "create_team",
    "delete_role",
    "delete_team",
    "ensure_builtin_roles",
    "invite",
    "leave_team",
    "reject_join_request",
    "remove_member",
    "request_join",
    "revoke_role",
    "share_object",
    "sync_idp_groups",
    "unshare_object",
    "update_member_role",
    "update_role",
    "update_team",
]


def _error(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _require(actor: Principal, permission: str, team: Team | None = None) -> None:
    if not has_permission(actor, permission, team=team):
        raise PermissionDenied(permission)


def _unique_slug(base: str) -> str:
    root = slugify(base)[:200] or "team"
    slug, n = root, 1
    while Team.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{root}-{n}"
    return slug


# --- Teams ------------------------------------------------------------------------


@transaction.atomic
def create_personal_team(user: Any) -> Team:
    """The user's personal team, created on first need (idempotent); the user owns it."""
    existing = Team.objects.filter(is_personal=True, created_by=user).first()
    if existing is not None:
        return existing
    team = Team.objects.create(
        name=f"{user.get_full_name()}'s Team",
        slug=_unique_slug(f"personal-{user.email.split('@')[0]}"),
        is_personal=True,
        visibility=Team.TeamVisibility.PRIVATE,
        created_by=user,
    )
    TeamMember.objects.create(team=team, user=user, role=TeamMember.Role.OWNER)
    return team


def _clean_team_fields(fields: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    if "name" in fields:
        name = (fields["name"] or "").strip()
        if not name:
            raise _error("name", "This field is required.")
        if len(name) > 255:
            raise _error("name", "At most 255 characters.")
        cleaned["name"] = name
    if "description" in fields:
        cleaned["description"] = fields["description"] or ""
    if "visibility" in fields:
        if fields["visibility"] not in Team.TeamVisibility.values:
            raise _error("visibility", f"Expected one of {', '.join(Team.TeamVisibility.values)}.")
        cleaned["visibility"] = fields["visibility"]
    if "max_members" in fields:
        value = fields["max_members"]
        if value is not None and (not isinstance(value, int) or value < 1):
            raise _error("max_members", "A positive integer or null.")
        cleaned["max_members"] = value
    unknown = set(fields) - {"name", "description", "visibility", "max_members", "slug"}
    if unknown:
        raise _error(sorted(unknown)[0], "Unknown field.")
    return cleaned


@transaction.atomic
def create_team(actor: Principal, *, name: str, **fields: Any) -> Team:
    """Create a team owned by the actor."""
    from django.contrib.auth import get_user_model

    _require(actor, "teams.create")
    cleaned = _clean_team_fields({"name": name, **{k: v for k, v in fields.items() if k != "slug"}})
    owned = TeamMember.objects.filter(user_id=actor.user_id, team__is_personal=False).count()
    if not actor.is_platform_admin and owned >= settings.MAX_TEAMS_PER_USER:
        raise _error("name", f"You are already in {settings.MAX_TEAMS_PER_USER} teams, the maximum.")
    slug = fields.get("slug") or cleaned["name"]
    if fields.get("slug") and Team.objects.filter(slug=slugify(slug)).exists():
        raise _error("slug", "A team with this slug already exists.")
    user = get_user_model().objects.get(pk=actor.user_id)
    team = Team.objects.create(slug=_unique_slug(slug), created_by=user, **cleaned)
    TeamMember.objects.create(team=team, user=user, role=TeamMember.Role.OWNER)
    return team


@transaction.atomic
def update_team(actor: Principal, team: Team, **fields: Any) -> Team:
    """Change a team's name, description, visibility or member limit."""
    _require(actor, "teams.update", team)
    cleaned = _clean_team_fields(fields)
    if team.is_personal and cleaned.get("visibility") == Team.TeamVisibility.PUBLIC:
        raise _error("visibility", "A personal team cannot be public.")
    for key, value in cleaned.items():
        setattr(team, key, value)
    team.save()
    return team


@transaction.atomic
def delete_team(actor: Principal, team: Team) -> None:
    """Delete a team (never a personal one)."""
    _require(actor, "teams.delete", team)
    if team.is_personal:
        raise _error("team", "A personal team cannot be deleted.")
    team.delete()


# --- Members ----------------------------------------------------------------------


def _check_capacity(team: Team) -> None:
    if team.max_members is not None and team.memberships.count() >= team.max_members:
        raise _error("team", f"The team is full ({team.max_members} members).")


def _add(team: Team, user: Any, role: str) -> TeamMember:
    if team.is_personal:
        raise _error("team", "Nobody can join a personal team.")
    if role not in TeamMember.Role.values:
        raise _error("role", f"Expected one of {', '.join(TeamMember.Role.values)}.")
    if TeamMember.objects.filter(team=team, user=user).exists():
        raise _error("email", "Already a member of this team.")
    _check_capacity(team)
    return TeamMember.objects.create(team=team, user=user, role=role)


@transaction.atomic
def add_member(actor: Principal, team: Team, user: Any, role: str = TeamMember.Role.MEMBER) -> TeamMember:
    """Add a user to a team directly (team managers)."""
    _require(actor, "teams.manage", team)
    return _add(team, user, role)


def _owners_left(team: Team, excluding: TeamMember) -> int:
    return team.memberships.filter(role=TeamMember.Role.OWNER).exclude(pk=excluding.pk).count()


@transaction.atomic
def update_member_role(actor: Principal, membership: TeamMember, role: str) -> TeamMember:
    """Change a member's role; the last owner cannot be demoted."""
    _require(actor, "teams.manage", membership.team)
    if role not in TeamMember.Role.values:
        raise _error("role", f"Expected one of {', '.join(TeamMember.Role.values)}.")
    demoting = membership.role == TeamMember.Role.OWNER and role != TeamMember.Role.OWNER
    if demoting and _owners_left(membership.team, membership) == 0:
        raise _error("role", "The last owner of a team cannot be demoted.")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def remove_member(actor: Principal, membership: TeamMember) -> None:
    """Remove a member (team managers); the last owner cannot be removed."""
    _require(actor, "teams.manage", membership.team)
    if membership.role == TeamMember.Role.OWNER and _owners_left(membership.team, membership) == 0:
        raise _error("email", "The last owner of a team cannot be removed.")
    membership.delete()


@transaction.atomic
def leave_team(actor: Principal, team: Team) -> None:
    """Leave a team; the last owner cannot, and nobody leaves their personal team."""
    membership = TeamMember.objects.filter(team=team, user_id=actor.user_id).first()
    if membership is None:
        raise _error("team", "You are not a member of this team.")
    if team.is_personal:
        raise _error("team", "You cannot leave your personal team.")
    if membership.role == TeamMember.Role.OWNER and _owners_left(team, membership) == 0:
        raise _error("team", "The last owner cannot leave the team; transfer ownership first.")
    membership.delete()


# --- Invitations ------------------------------------------------------------------


@transaction.atomic
def invite(actor: Principal, team: Team, email: str, role: str = TeamMember.Role.MEMBER) -> TeamInvitation:
    """Invite an email address to a team, with an expiring single-use token."""
    from django.contrib.auth import get_user_model

    _require(actor, "teams.manage", team)
    email = (email or "").strip().lower()
    if "@" not in email:
        raise _error("email", "Enter a valid email address.")
    if role not in TeamMember.Role.values:
        raise _error("role", f"Expected one of {', '.join(TeamMember.Role.values)}.")
    if team.is_personal:
        raise _error("team", "Nobody can be invited to a personal team.")
    if TeamMember.objects.filter(team=team, user__email__iexact=email).exists():
        raise _error("email", "Already a member of this team.")
    if TeamInvitation.objects.filter(
        team=team, email__iexact=email, is_active=True, accepted_at__isnull=True, expires_at__gt=timezone.now()
    ).exists():
        raise _error("email", "An invitation for this email is already pending.")
    _check_capacity(team)
    inviter = get_user_model().objects.get(pk=actor.user_id)
    invitation = TeamInvitation.objects.create(
        team=team,
        email=email,
        role=role,
        invited_by=inviter,
        expires_at=timezone.now() + dt.timedelta(days=settings.INVITATION_EXPIRY_DAYS),
    )
    from contextforge.jobs import enqueue_on_commit

    from .tasks import send_invitation_email

    enqueue_on_commit(send_invitation_email, invitation.pk)
    return invitation


@transaction.atomic
def accept_invitation(actor: Principal, token: str) -> TeamMember:
    """Accept an invitation addressed to the actor's email; the token works once."""
    from django.contrib.auth import get_user_model

    invitation = TeamInvitation.objects.select_for_update().filter(token=token or "").first()
    if invitation is None or invitation.email.lower() != actor.email.lower():
        raise _error("token", "Invalid invitation.")
    if not invitation.is_active or invitation.accepted_at is not None:
        raise _error("token", "This invitation has already been used or was cancelled.")
    if invitation.is_expired:
        raise _error("token", "This invitation has expired.")
    user = get_user_model().objects.get(pk=actor.user_id)
    membership = _add(invitation.team, user, invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.is_active = False
    invitation.save(update_fields=["accepted_at", "is_active"])
    return membership


@transaction.atomic
def cancel_invitation(actor: Principal, invitation: TeamInvitation) -> None:
    """Cancel a pending invitation."""
    _require(actor, "teams.manage", invitation.team)
    invitation.is_active = False
    invitation.save(update_fields=["is_active"])


# --- Join requests ----------------------------------------------------------------


@transaction.atomic
def request_join(actor: Principal, team: Team, message: str = "") -> TeamJoinRequest:
    """Ask to join a public team."""
    from django.contrib.auth import get_user_model

    _require(actor, "teams.join")
    if team.visibility != Team.TeamVisibility.PUBLIC or team.is_personal:
        raise _error("team", "Only public teams accept join requests.")
    if TeamMember.objects.filter(team=team, user_id=actor.user_id).exists():
        raise _error("team", "You are already a member of this team.")
    if len(message or "") > 1000:
        raise _error("message", "At most 1000 characters.")
    user = get_user_model().objects.get(pk=actor.user_id)
    try:
        with transaction.atomic():
            return TeamJoinRequest.objects.create(team=team, user=user, message=message or "")
    except IntegrityError:
        raise _error("team", "You already have a pending request for this team.") from None


def _review(actor: Principal, request: TeamJoinRequest, status: str) -> TeamJoinRequest:
    from django.contrib.auth import get_user_model

    _require(actor, "teams.manage", request.team)
    if request.status != TeamJoinRequest.Status.PENDING:
        raise _error("status", f"This request is already {request.status}.")
    request.status = status
    request.reviewed_at = timezone.now()
    request.reviewed_by = get_user_model().objects.get(pk=actor.user_id)
    request.save(update_fields=["status", "reviewed_at", "reviewed_by"])
    return request


@transaction.atomic
def approve_join_request(actor: Principal, request: TeamJoinRequest) -> TeamMember:
    """Approve a pending join request: the requester becomes a member."""
    _review(actor, request, TeamJoinRequest.Status.APPROVED)
    return _add(request.team, request.user, TeamMember.Role.MEMBER)


@transaction.atomic
def reject_join_request(actor: Principal, request: TeamJoinRequest) -> TeamJoinRequest:
    """Reject a pending join request."""
    return _review(actor, request, TeamJoinRequest.Status.REJECTED)


# --- Roles ------------------------------------------------------------------------


def ensure_builtin_roles() -> None:
    """Create or refresh the built-in roles (run after every migrate and flush)."""
    from .rbac import BUILTIN_ROLES

    for name, (scope, description, permissions) in BUILTIN_ROLES.items():
        Role.objects.update_or_create(
            name=name,
            defaults={"scope": scope, "description": description, "permissions": permissions, "is_system_role": True},
        )


def _clean_permissions(permissions: Any) -> list[str]:
    if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
        raise _error("permissions", "Expected a list of permission names.")
    for permission in permissions:
        if not is_known_permission(permission):
            raise _error("permissions", f"Unknown permission: {permission!r}.")
    return sorted(set(permissions))


@transaction.atomic
def create_role(actor: Principal, *, name: str, scope: str, permissions: list[str], description: str = "") -> Role:
    """Create a custom role."""
    from django.contrib.auth import get_user_model

    _require(actor, "admin.roles")
    name = (name or "").strip()
    if not name:
        raise _error("name", "This field is required.")
    if Role.objects.filter(name=name).exists():
        raise _error("name", "A role with this name already exists.")
    if scope not in Role.Scope.values:
        raise _error("scope", f"Expected one of {', '.join(Role.Scope.values)}.")
    creator = get_user_model().objects.filter(pk=actor.user_id).first()
    return Role.objects.create(
        name=name,
        scope=scope,
        permissions=_clean_permissions(permissions),
        description=description or "",
        created_by=creator,
    )


@transaction.atomic
def update_role(actor: Principal, role: Role, **fields: Any) -> Role:
    """Change a role's description or permissions (and name, for custom roles)."""
    _require(actor, "admin.roles")
    if "name" in fields:
        name = (fields.pop("name") or "").strip()
        if name != role.name:
            if role.is_system_role:
                raise _error("name", "Built-in roles cannot be renamed.")
            if not name or Role.objects.filter(name=name).exclude(pk=role.pk).exists():
                raise _error("name", "Required and unique.")
            role.name = name
    if "permissions" in fields:
        role.permissions = _clean_permissions(fields.pop("permissions"))
    if "description" in fields:
        role.description = fields.pop("description") or ""
    if fields:
        raise _error(sorted(fields)[0], "This field cannot be changed.")
    role.save()
    return role


@transaction.atomic
def delete_role(actor: Principal, role: Role) -> None:
    """Delete a custom role and its assignments."""
    _require(actor, "admin.roles")
    if role.is_system_role:
        raise _error("role", "Built-in roles cannot be deleted.")
    role.delete()


@transaction.atomic
def assign_role(
    actor: Principal, user: Any, role: Role, team: Team | None = None, *, expires_at: dt.datetime | None = None
) -> RoleAssignment:
    """Give a user a role: team-scoped roles need a team, others must not have one.

    Platform admins assign any role; team managers assign team-scoped roles in their team.
    """
    if role.scope == Role.Scope.TEAM:
        if team is None:
            raise _error("scope_id", "A team-scoped role needs a team.")
        if not (has_permission(actor, "admin.roles") or has_permission(actor, "teams.manage", team=team)):
            raise PermissionDenied("teams.manage")
    else:
        if team is not None:
            raise _error("scope_id", f"A {role.scope} role is not assigned in a team.")
        _require(actor, "admin.roles")
    if RoleAssignment.objects.filter(role=role, user=user, team=team).exists():
        raise _error("role_id", "The user already holds this role here.")
    from django.contrib.auth import get_user_model

    granter = get_user_model().objects.filter(pk=actor.user_id).first()
    if expires_at is not None and expires_at <= timezone.now():
        raise _error("expires_at", "Must be in the future.")
    return RoleAssignment.objects.create(role=role, user=user, team=team, granted_by=granter, expires_at=expires_at)


@transaction.atomic
def revoke_role(actor: Principal, assignment: RoleAssignment) -> None:
    """Take a role away."""
    if assignment.team_id is not None:
        if not (has_permission(actor, "admin.roles") or has_permission(actor, "teams.manage", team=assignment.team)):
            raise PermissionDenied("teams.manage")
    else:
        _require(actor, "admin.roles")
    assignment.delete()


# --- Object permissions (guardian) ------------------------------------------------


@transaction.atomic
def share_object(
    actor: Principal, obj: Any, *, user: Any = None, team: Team | None = None, action: str = "view"
) -> None:
    """Share one tenant-owned object with a user or a whole team (guardian object permission).

    Only the object's owner, a manager of its team or a platform admin may share it.
    """
    from guardian.shortcuts import assign_perm

    if (user is None) == (team is None):
        raise _error("target", "Share with exactly one of a user or a team.")
    if action not in ("view", "change", "delete"):
        raise _error("action", "Expected view, change or delete.")
    _require_object_manager(actor, obj)
    codename = f"{obj._meta.app_label}.{action}_{obj._meta.model_name}"
    if user is not None:
        assign_perm(codename, user, obj)
    else:
        assign_perm(codename, team.group, obj)


@transaction.atomic
def unshare_object(
    actor: Principal, obj: Any, *, user: Any = None, team: Team | None = None, action: str = "view"
) -> None:
    """Withdraw a share made by ``share_object``."""
    from guardian.shortcuts import remove_perm

    if (user is None) == (team is None):
        raise _error("target", "Unshare with exactly one of a user or a team.")
    _require_object_manager(actor, obj)
    codename = f"{obj._meta.app_label}.{action}_{obj._meta.model_name}"
    remove_perm(codename, user if user is not None else team.group, obj)


def _require_object_manager(actor: Principal, obj: Any) -> None:
    if actor.is_platform_admin and actor.scope_team_id is None:
        return
    if getattr(obj, "owner_id", None) == actor.user_id:
        return
    team_id = getattr(obj, "team_id", None)
    if team_id is not None and has_permission(actor, "teams.manage", team=team_id):
        return
    raise PermissionDenied("share")


# --- Identity-provider group sync -------------------------------------------------


@transaction.atomic
def sync_idp_groups(user: Any, provider: str, groups: list[str]) -> None:
    """Apply IdP group mappings at sign-in: grant mapped teams/roles, withdraw stale SSO grants.

    Only grants this sync made (``grant_source="sso:<provider>"``) are ever withdrawn; a
    membership given in the platform is left alone. A full team is logged and skipped.
    """
    import logging

    from django.db.models import Q

    from .models import IdpGroupMapping

    log = logging.getLogger(__name__)
    source = f"sso:{provider}"
    mappings = IdpGroupMapping.objects.filter(Q(provider="") | Q(provider=provider), group__in=groups)
    wanted_teams: dict[int, str] = {}
    wanted_roles: set[int] = set()
    for mapping in mappings:
        if mapping.team_id is not None:
            current = wanted_teams.get(mapping.team_id)
            wanted_teams[mapping.team_id] = TeamMember.Role.OWNER if current == "owner" else mapping.team_role
        if mapping.role_id is not None:
            wanted_roles.add(mapping.role_id)
    for membership in TeamMember.objects.filter(user=user, grant_source=source).exclude(team_id__in=wanted_teams):
        if membership.role != TeamMember.Role.OWNER or _owners_left(membership.team, membership) > 0:
            membership.delete()
    RoleAssignment.objects.filter(user=user, grant_source=source, team__isnull=True).exclude(
        role_id__in=wanted_roles
    ).delete()
    for team in Team.objects.filter(pk__in=wanted_teams):
        role = wanted_teams[team.pk]
        membership = TeamMember.objects.filter(team=team, user=user).first()
        if membership is None:
            if team.max_members is not None and team.memberships.count() >= team.max_members:
                log.warning("IdP group sync: team %s is full; %s not added", team.slug, user.email)
                continue
            TeamMember.objects.create(team=team, user=user, role=role, grant_source=source)
        elif membership.grant_source == source and membership.role != role:
            membership.role = role
            membership.save(update_fields=["role"])
    for role in Role.objects.filter(pk__in=wanted_roles).exclude(scope=Role.Scope.TEAM):
        RoleAssignment.objects.get_or_create(role=role, user=user, team=None, defaults={"grant_source": source})
