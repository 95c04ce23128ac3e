"""Teams and memberships, and the abstract base of every tenant-owned object."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils import timezone

from .querysets import VisibleQuerySet


class Visibility(models.TextChoices):
    """Who may see a tenant-owned object."""

    PRIVATE = "private", "Private (owner only)"
    TEAM = "team", "Team"
    PUBLIC = "public", "Public"


class Team(models.Model):
    """A group of users that owns catalog objects together."""

    class TeamVisibility(models.TextChoices):
        PRIVATE = "private", "Private"
        PUBLIC = "public", "Public (discoverable)"

    name = models.CharField(max_length=255)
    slug = models.SlugField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    visibility = models.CharField(max_length=16, choices=TeamVisibility.choices, default=TeamVisibility.PRIVATE)
    is_personal = models.BooleanField(default=False)
    max_members = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # The auth group mirroring the membership: how guardian shares one object with a team.
    group = models.OneToOneField(Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="team")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMember(models.Model):
    """A user's membership of a team, with a role."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MEMBER = "member", "Member"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)
    # Where the membership came from: "" (granted in the platform) or "sso:<provider>" (IdP group sync).
    grant_source = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="unique_team_member")]
        ordering = ["team", "user"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class OwnedModel(models.Model):
    """Abstract base of tenant-owned objects: owner, team and visibility.

    Its default manager is restricted-by-intent: list endpoints and protocol lookups
    reach rows only through ``Model.objects.visible_to(principal, action)``.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.TEAM)

    objects = VisibleQuerySet.as_manager()

    #: Permission family of the model (e.g. "tools"): a token whose permission scope lacks
    #: "<family>.read" sees none of its rows. None: no permission-scope narrowing.
    permission_family: str | None = None
    #: Lookup from the model to virtual-server ids (e.g. "pk" on servers, "servers__id" on
    #: tools): a token scoped to servers sees only rows reachable from them. None: no narrowing.
    server_scope_lookup: str | None = None

    class Meta:
        abstract = True


def _invitation_token() -> str:
    return secrets.token_urlsafe(32)


class TeamInvitation(models.Model):
    """An invitation by email to join a team: single-use, expiring token."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=TeamMember.Role.choices, default=TeamMember.Role.MEMBER)
    token = models.CharField(max_length=64, unique=True, default=_invitation_token, editable=False)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    invited_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-invited_at"]

    def __str__(self) -> str:
        return f"{self.email} to {self.team}"

    @property
    def is_expired(self) -> bool:
        """True once past its expiry."""
        return self.expires_at <= timezone.now()


class TeamJoinRequest(models.Model):
    """A request to join a public team, approved or rejected by its owners."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="join_requests")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    message = models.TextField(blank=True, max_length=1000)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField(default=timezone.now)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "user"], condition=models.Q(status="pending"), name="one_pending_join_request"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} to {self.team} ({self.status})"


class Role(models.Model):
    """A named set of permissions with a scope: global, team or personal."""

    class Scope(models.TextChoices):
        GLOBAL = "global", "Global"
        TEAM = "team", "Team"
        PERSONAL = "personal", "Personal"

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    scope = models.CharField(max_length=16, choices=Scope.choices)
    permissions = models.JSONField(default=list, blank=True)
    is_system_role = models.BooleanField(default=False, help_text="Built-in roles cannot be deleted or renamed.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RoleAssignment(models.Model):
    """A role held by a user: globally, in one team (team-scoped roles) or personally."""

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="role_assignments")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    grant_source = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["user", "role"]
        constraints = [models.UniqueConstraint(fields=["role", "user", "team"], name="unique_role_assignment")]

    def __str__(self) -> str:
        where = f" in {self.team}" if self.team_id else ""
        return f"{self.user}: {self.role}{where}"


class IdpGroupMapping(models.Model):
    """Maps a group asserted by an identity provider to a team membership and/or a global role.

    Applied at every SSO sign-in: memberships and roles granted this way carry
    ``grant_source="sso:<provider>"`` and are withdrawn when the group is no longer asserted.
    """

    provider = models.CharField(
        max_length=100, blank=True, help_text="Provider id (e.g. keycloak, github); blank for every provider."
    )
    group = models.CharField(max_length=255, help_text="Group name as it appears in the IdP's groups claim.")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="idp_mappings")
    team_role = models.CharField(max_length=16, choices=TeamMember.Role.choices, default=TeamMember.Role.MEMBER)
    role = models.ForeignKey(
        Role,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="idp_mappings",
        help_text="A global or personal role to grant (team roles come with the team).",
    )

    class Meta:
        ordering = ["provider", "group"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(team__isnull=False) | models.Q(role__isnull=False), name="idp_mapping_has_target"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider or '*'}:{self.group}"
