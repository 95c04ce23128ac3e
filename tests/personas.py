"""The personas every authorization test speaks of.

platform admin, team owner, team member and outsider, with one shared team. Use the
fixtures (``personas``) and ``api_client(persona)`` to call the REST API as one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.teams.models import Team, TeamMember

__all__ = ["Personas", "api_client", "personas"]


@dataclass
class Personas:
    """The cast of an authorization test."""

    admin: User
    owner: User
    member: User
    outsider: User
    team: Team


def _user(email: str, **fields) -> User:
    return User.objects.create_user(email, "Correct-Horse-7", full_name=email.split("@")[0].title(), **fields)


@pytest.fixture
def personas(db) -> Personas:
    """A platform admin, a team with an owner and a member, and an outsider."""
    admin = _user("admin@example.com", is_platform_admin=True)
    owner = _user("owner@example.com")
    member = _user("member@example.com")
    outsider = _user("outsider@example.com")
    team = Team.objects.create(name="Blue Team", slug="blue-team", created_by=owner)
    TeamMember.objects.create(team=team, user=owner, role=TeamMember.Role.OWNER)
    TeamMember.objects.create(team=team, user=member, role=TeamMember.Role.MEMBER)
    return Personas(admin=admin, owner=owner, member=member, outsider=outsider, team=team)


def api_client(user: User | None) -> APIClient:
    """A DRF client signed in as ``user`` (anonymous for None)."""
    client = APIClient()
    if user is not None:
        client.force_authenticate(user=user)
    return client
