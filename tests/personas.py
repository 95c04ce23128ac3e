"""The personas every authorization test speaks of.

platform admin, team owner, team member and outsider, with one shared team, and a
scoped API token (the member's, narrowed to the team and a few permissions). Use the
fixtures (``personas``) and ``api_client(persona)`` to call the REST API as one of them
through a session, or ``bearer_client(persona)`` to call it with a real bearer token.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken, User
from apps.accounts.services import create_api_token
from apps.accounts.tokens import issue_jwt
from apps.teams.models import Team, TeamMember

__all__ = ["SCOPED_TOKEN_PERMISSIONS", "Personas", "api_client", "bearer_client", "make_personas", "personas"]

PASSWORD = "Correct-Horse-7"
SCOPED_TOKEN_PERMISSIONS = ("tools.read", "tools.execute", "teams.read")


@dataclass
class Personas:
    """The cast of an authorization test."""

    admin: User
    owner: User
    member: User
    outsider: User
    team: Team
    scoped_token: ApiToken | None = None
    scoped_token_secret: str = ""

    @property
    def scoped(self) -> APIClient:
        """A client authenticating with the scoped API token."""
        return bearer_client(self.scoped_token_secret)


def _user(email: str, **fields) -> User:
    return User.objects.create_user(email, PASSWORD, full_name=email.split("@")[0].title(), **fields)


@pytest.fixture
def personas(db) -> Personas:
    """A platform admin, a team with an owner and a member, an outsider, and a scoped token."""
    return make_personas()


def make_personas() -> Personas:
    """Create the cast (for fixtures that need it outside the ``personas`` fixture)."""
    admin = _user("admin@example.com", is_platform_admin=True)
    owner = _user("owner@example.com")
    member = _user("member@example.com")
    outsider = _user("outsider@example.com")
    team = Team.objects.create(name="Blue Team", slug="blue-team", created_by=owner)
    TeamMember.objects.create(team=team, user=owner, role=TeamMember.Role.OWNER)
    TeamMember.objects.create(team=team, user=member, role=TeamMember.Role.MEMBER)
    token, secret = create_api_token(
        member, name="scoped persona token", team=team, permissions=list(SCOPED_TOKEN_PERMISSIONS)
    )
    return Personas(
        admin=admin,
        owner=owner,
        member=member,
        outsider=outsider,
        team=team,
        scoped_token=token,
        scoped_token_secret=secret,
    )


def api_client(user: User | None) -> APIClient:
    """A DRF client signed in as ``user`` (anonymous for None)."""
    client = APIClient()
    if user is not None:
        client.force_authenticate(user=user)
    return client


def bearer_client(who: User | str | None, **jwt_options) -> APIClient:
    """A DRF client sending ``Authorization: Bearer``: a fresh JWT for a user, or a given token string.

    ``jwt_options`` go to ``issue_jwt`` (minutes, team_id, server_ids, permissions).
    """
    client = APIClient()
    if who is None:
        return client
    token = who if isinstance(who, str) else issue_jwt(who, **jwt_options)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client
