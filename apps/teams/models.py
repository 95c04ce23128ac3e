"""Teams and memberships, and the abstract base of every tenant-owned object."""

from __future__ import annotations

from django.conf import settings
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

    class Meta:
        abstract = True
