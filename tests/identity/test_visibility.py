"""visible_to: team scoping, visibility, token scopes and guardian object permissions."""

from __future__ import annotations

import pytest

from apps.accounts.models import User
from apps.accounts.principal import ANONYMOUS
from apps.accounts.services import PermissionDenied
from apps.accounts.tokens import authenticate_bearer, issue_jwt
from apps.teams import services
from apps.teams.models import Team, TeamMember
from apps.teams.principals import principal_for_user
from tests.identity.widgets import Widget, widget_table  # noqa: F401 - fixture
from tests.personas import make_personas

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(widget_table):  # noqa: F811
    """Personas and one widget of each visibility, in the Blue Team (plus an outsider's own)."""
    cast = make_personas()
    team = cast.team
    rows = {
        "private": Widget.objects.create(name="private", owner=cast.owner, team=team, visibility="private"),
        "team": Widget.objects.create(name="team", owner=cast.owner, team=team, visibility="team", server_id="s1"),
        "public": Widget.objects.create(name="public", owner=cast.owner, team=team, visibility="public"),
        "outsider": Widget.objects.create(name="outsider", owner=cast.outsider, team=None, visibility="private"),
    }
    return cast, rows


def names(principal, action="view") -> set[str]:
    return set(Widget.objects.visible_to(principal, action).values_list("name", flat=True))


def test_visibility_per_persona(world) -> None:
    cast, _ = world
    assert names(principal_for_user(cast.owner)) == {"private", "team", "public"}
    assert names(principal_for_user(cast.member)) == {"team", "public"}
    assert names(principal_for_user(cast.outsider)) == {"public", "outsider"}
    assert names(principal_for_user(cast.admin)) == {"private", "team", "public", "outsider"}
    assert names(ANONYMOUS) == {"public"}
    assert names(ANONYMOUS, "change") == set()
    # Public rows are readable by all, changeable only by the owner and the team.
    assert names(principal_for_user(cast.outsider), "change") == {"outsider"}
    assert names(principal_for_user(cast.member), "change") == {"team", "public"}


def test_deactivated_user_sees_only_public(world) -> None:
    cast, _ = world
    User.objects.filter(pk=cast.member.pk).update(is_active=False)
    cast.member.refresh_from_db()
    assert names(principal_for_user(cast.member)) == {"public"}


def test_token_scopes_narrow(world) -> None:
    cast, _ = world
    # Team scope: only the scoped team's rows (plus public rows for view).
    other = Team.objects.create(name="Green", slug="green", created_by=cast.owner)
    TeamMember.objects.create(team=other, user=cast.owner, role="owner")
    Widget.objects.create(name="green", owner=cast.owner, team=other, visibility="team")
    owner = principal_for_user(cast.owner)
    assert "green" in names(owner)
    scoped = authenticate_bearer(issue_jwt(cast.owner, team_id=cast.team.pk), None)
    assert names(scoped) == {"private", "team", "public"}
    # Server scope: only rows reachable from the servers.
    servers = authenticate_bearer(issue_jwt(cast.owner, server_ids=["s1"]), None)
    assert names(servers) == {"team"}
    # Permission scope without tools.read: nothing of the tools family.
    blind = authenticate_bearer(issue_jwt(cast.owner, permissions=["prompts.read"]), None)
    assert names(blind) == set()
    sighted = authenticate_bearer(issue_jwt(cast.owner, permissions=["tools.*"]), None)
    assert names(sighted) == {"private", "team", "public", "green"}
    # A team-scoped admin is narrowed like anyone else.
    admin_scoped = authenticate_bearer(issue_jwt(cast.admin, team_id=cast.team.pk), None)
    assert names(admin_scoped) == {"public"}


def test_share_with_user_and_team(world) -> None:
    cast, rows = world
    outsider = principal_for_user(cast.outsider)
    owner = principal_for_user(cast.owner)
    assert "private" not in names(outsider)
    with pytest.raises(PermissionDenied):
        services.share_object(principal_for_user(cast.member), rows["private"], user=cast.outsider)
    services.share_object(owner, rows["private"], user=cast.outsider)
    assert names(outsider) == {"public", "outsider", "private"}
    assert "private" not in names(outsider, "change")
    assert cast.outsider.has_perm("identity_tests.view_widget", rows["private"])
    services.unshare_object(owner, rows["private"], user=cast.outsider)
    assert "private" not in names(outsider)
    # Share with a whole team: its members see it, and lose it when they leave.
    green = Team.objects.create(name="Green", slug="green", created_by=cast.outsider)
    TeamMember.objects.create(team=green, user=cast.outsider, role="owner")
    services.share_object(owner, rows["private"], team=green, action="change")
    outsider = principal_for_user(cast.outsider)
    assert "private" in names(outsider) and "private" in names(outsider, "change")
    TeamMember.objects.filter(team=green, user=cast.outsider).delete()
    assert "private" not in names(principal_for_user(cast.outsider))
    # A share does not survive a token narrowed to another team.
    services.share_object(owner, rows["private"], user=cast.outsider)
    narrowed = authenticate_bearer(issue_jwt(cast.outsider, team_id=green.pk), None)
    assert narrowed is not None and "private" not in names(narrowed)
