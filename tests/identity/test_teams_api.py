"""Teams endpoints per persona: allowed paths work, denied paths answer 403/404 and change nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.accounts.models import User
from apps.teams.models import Team, TeamInvitation, TeamJoinRequest, TeamMember
from tests.identity.snapshot import denied
from tests.personas import Personas, api_client, bearer_client

pytestmark = pytest.mark.django_db


def test_every_user_gets_a_personal_team(db) -> None:
    user = User.objects.create_user("new@example.com", "Correct-Horse-7", full_name="New Person")
    team = Team.objects.get(is_personal=True, created_by=user)
    assert TeamMember.objects.get(team=team, user=user).role == "owner"
    response = bearer_client(user).get("/v1/teams/")
    assert [t["id"] for t in response.json()["teams"]] == [str(team.pk)]
    assert response.json()["teams"][0]["is_personal"] is True


def test_list_teams_per_persona(personas: Personas) -> None:
    def names(user):
        return {t["name"] for t in api_client(user).get("/v1/teams/").json()["teams"]}

    assert "Blue Team" in names(personas.owner)
    assert "Blue Team" in names(personas.member)
    assert "Blue Team" not in names(personas.outsider)
    assert "Blue Team" in names(personas.admin)
    scoped = personas.scoped.get("/v1/teams/").json()
    assert [t["name"] for t in scoped["teams"]] == ["Blue Team"]


def test_create_team(personas: Personas) -> None:
    response = bearer_client(personas.outsider).post(
        "/v1/teams/", {"name": "Red Team", "description": "reds", "visibility": "public"}, format="json"
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["slug"] == "red-team" and data["created_by"] == "outsider@example.com"
    assert data["member_count"] == 1 and data["visibility"] == "public"
    team = Team.objects.get(pk=int(data["id"]))
    assert TeamMember.objects.get(team=team).role == "owner"


def test_create_team_validation_and_scope(personas: Personas) -> None:
    denied(lambda: api_client(personas.owner).post("/v1/teams/", {"visibility": "x"}, format="json"), 400)
    response = api_client(personas.owner).post("/v1/teams/", {"visibility": "x"}, format="json")
    assert set(response.json()) == {"name", "visibility"}
    # The scoped token lacks teams.create.
    denied(lambda: personas.scoped.post("/v1/teams/", {"name": "Sneaky"}, format="json"), 403)
    denied(lambda: api_client(None).post("/v1/teams/", {"name": "Anon"}, format="json"), 401)


def test_get_team_hides_private_teams(personas: Personas) -> None:
    url = f"/v1/teams/{personas.team.pk}"
    assert api_client(personas.member).get(url).status_code == 200
    assert api_client(personas.admin).get(url).status_code == 200
    assert api_client(personas.outsider).get(url).status_code == 404
    assert api_client(personas.outsider).get("/v1/teams/999999").status_code == 404
    assert api_client(personas.outsider).get("/v1/teams/not-a-number").status_code == 404


def test_update_team(personas: Personas) -> None:
    url = f"/v1/teams/{personas.team.pk}"
    body = {"name": "Azure Team", "max_members": 10}
    denied(lambda: api_client(personas.member).put(url, body, format="json"), 403)
    denied(lambda: api_client(personas.outsider).put(url, body, format="json"), 404)
    denied(lambda: personas.scoped.put(url, body, format="json"), 403)
    response = api_client(personas.owner).put(url, body, format="json")
    assert response.status_code == 200 and response.json()["name"] == "Azure Team"
    assert response.json()["max_members"] == 10
    assert api_client(personas.admin).put(url, {"description": "by admin"}, format="json").status_code == 200


def test_delete_team(personas: Personas) -> None:
    url = f"/v1/teams/{personas.team.pk}"
    denied(lambda: api_client(personas.member).delete(url), 403)
    denied(lambda: api_client(personas.outsider).delete(url), 404)
    denied(lambda: personas.scoped.delete(url), 403)
    assert api_client(personas.owner).delete(url).status_code == 200
    assert not Team.objects.filter(pk=personas.team.pk).exists()


def test_personal_team_cannot_be_deleted_or_left(personas: Personas) -> None:
    personal = Team.objects.get(is_personal=True, created_by=personas.owner)
    denied(lambda: api_client(personas.owner).delete(f"/v1/teams/{personal.pk}"), 400)
    denied(lambda: api_client(personas.owner).delete(f"/v1/teams/{personal.pk}/leave"), 400)


def test_members_list_and_add(personas: Personas) -> None:
    url = f"/v1/teams/{personas.team.pk}/members"
    emails = {m["user_email"] for m in api_client(personas.member).get(url).json()}
    assert emails == {"owner@example.com", "member@example.com"}
    assert personas.scoped.get(url).status_code == 200
    assert api_client(personas.outsider).get(url).status_code == 404
    body = {"email": "outsider@example.com", "role": "member"}
    denied(lambda: api_client(personas.member).post(url, body, format="json"), 403)
    denied(lambda: api_client(personas.outsider).post(url, body, format="json"), 404)
    denied(lambda: personas.scoped.post(url, body, format="json"), 403)
    denied(lambda: api_client(personas.owner).post(url, {"email": "ghost@example.com"}, format="json"), 400)
    response = api_client(personas.owner).post(url, body, format="json")
    assert response.status_code == 201 and response.json()["user_email"] == "outsider@example.com"
    denied(lambda: api_client(personas.owner).post(url, body, format="json"), 400)  # already a member


def test_max_members_is_enforced(personas: Personas) -> None:
    Team.objects.filter(pk=personas.team.pk).update(max_members=2)
    url = f"/v1/teams/{personas.team.pk}/members"
    response = api_client(personas.owner).post(url, {"email": "outsider@example.com"}, format="json")
    assert response.status_code == 400 and "full" in str(response.json())
    assert not TeamMember.objects.filter(team=personas.team, user=personas.outsider).exists()


def test_member_role_change_and_last_owner_rules(personas: Personas) -> None:
    base = f"/v1/teams/{personas.team.pk}/members"
    denied(lambda: api_client(personas.member).put(f"{base}/member@example.com", {"role": "owner"}, format="json"), 403)
    denied(lambda: api_client(personas.owner).put(f"{base}/owner@example.com", {"role": "member"}, format="json"), 400)
    denied(lambda: api_client(personas.owner).delete(f"{base}/owner@example.com"), 400)
    denied(lambda: api_client(personas.owner).delete(f"/v1/teams/{personas.team.pk}/leave"), 400)
    response = api_client(personas.owner).put(f"{base}/member@example.com", {"role": "owner"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "owner"
    # Now there are two owners: the first may step down or leave.
    assert api_client(personas.owner).delete(f"/v1/teams/{personas.team.pk}/leave").status_code == 200
    assert not TeamMember.objects.filter(team=personas.team, user=personas.owner).exists()


def test_remove_member(personas: Personas) -> None:
    url = f"/v1/teams/{personas.team.pk}/members/member@example.com"
    denied(lambda: api_client(personas.outsider).delete(url), 404)
    denied(lambda: api_client(personas.member).delete(url), 403)
    assert api_client(personas.owner).delete(url).status_code == 200
    assert not TeamMember.objects.filter(team=personas.team, user=personas.member).exists()


def test_leave(personas: Personas) -> None:
    url = f"/v1/teams/{personas.team.pk}/leave"
    denied(lambda: api_client(personas.outsider).delete(url), 404)
    assert api_client(personas.member).delete(url).status_code == 200
    assert not TeamMember.objects.filter(team=personas.team, user=personas.member).exists()


@pytest.fixture
def eager_jobs():
    """Run queued jobs in-process, as the embedded default does (with Redis they go to a worker)."""
    from contextforge.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_invitation_is_emailed_on_commit(
    personas: Personas, mailoutbox, django_capture_on_commit_callbacks, eager_jobs
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(personas.owner).post(
            f"/v1/teams/{personas.team.pk}/invitations", {"email": "outsider@example.com"}, format="json"
        )
    assert response.status_code == 201
    (mail,) = mailoutbox
    assert mail.to == ["outsider@example.com"] and "Blue Team" in mail.subject
    assert f"/v1/teams/invitations/{response.json()['token']}/accept" in mail.body


def test_invitation_flow(personas: Personas) -> None:
    url = f"/v1/teams/{personas.team.pk}/invitations"
    body = {"email": "outsider@example.com", "role": "member"}
    denied(lambda: api_client(personas.member).post(url, body, format="json"), 403)
    denied(lambda: api_client(personas.outsider).post(url, body, format="json"), 404)
    denied(lambda: personas.scoped.post(url, body, format="json"), 403)
    response = api_client(personas.owner).post(url, body, format="json")
    assert response.status_code == 201, response.content
    invitation = response.json()
    assert invitation["team_name"] == "Blue Team" and invitation["is_expired"] is False
    assert [i["email"] for i in api_client(personas.owner).get(url).json()] == ["outsider@example.com"]
    denied(lambda: api_client(personas.member).get(url), 403)
    accept = f"/v1/teams/invitations/{invitation['token']}/accept"
    # Only the invited address can accept it.
    denied(lambda: api_client(personas.admin).post(accept), 400)
    response = api_client(personas.outsider).post(accept)
    assert response.status_code == 200 and response.json()["role"] == "member"
    assert TeamMember.objects.filter(team=personas.team, user=personas.outsider).exists()
    # Single use.
    TeamMember.objects.filter(team=personas.team, user=personas.outsider).delete()
    denied(lambda: api_client(personas.outsider).post(accept), 400)


def test_expired_invitation_is_refused(personas: Personas) -> None:
    response = api_client(personas.owner).post(
        f"/v1/teams/{personas.team.pk}/invitations", {"email": "outsider@example.com"}, format="json"
    )
    token = response.json()["token"]
    TeamInvitation.objects.filter(token=token).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = api_client(personas.outsider).post(f"/v1/teams/invitations/{token}/accept")
    assert response.status_code == 400 and "expired" in str(response.json())
    assert not TeamMember.objects.filter(team=personas.team, user=personas.outsider).exists()


def test_cancel_invitation(personas: Personas) -> None:
    response = api_client(personas.owner).post(
        f"/v1/teams/{personas.team.pk}/invitations", {"email": "outsider@example.com"}, format="json"
    )
    invitation_id = response.json()["id"]
    denied(lambda: api_client(personas.outsider).delete(f"/v1/teams/invitations/{invitation_id}"), 404)
    denied(lambda: api_client(personas.member).delete(f"/v1/teams/invitations/{invitation_id}"), 403)
    assert api_client(personas.owner).delete(f"/v1/teams/invitations/{invitation_id}").status_code == 200
    token = response.json()["token"]
    denied(lambda: api_client(personas.outsider).post(f"/v1/teams/invitations/{token}/accept"), 400)


def test_discover_and_join_requests(personas: Personas) -> None:
    Team.objects.filter(pk=personas.team.pk).update(visibility="public")
    discovered = api_client(personas.outsider).get("/v1/teams/discover").json()
    assert [t["name"] for t in discovered] == ["Blue Team"] and discovered[0]["is_joinable"] is True
    assert api_client(personas.member).get("/v1/teams/discover").json() == []
    # A public team is visible but its members are not listed to outsiders.
    assert api_client(personas.outsider).get(f"/v1/teams/{personas.team.pk}").status_code == 200
    denied(lambda: api_client(personas.outsider).get(f"/v1/teams/{personas.team.pk}/members"), 403)
    response = api_client(personas.outsider).post(
        f"/v1/teams/{personas.team.pk}/join", {"message": "hi"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "pending"
    request_id = response.json()["id"]
    denied(lambda: api_client(personas.outsider).post(f"/v1/teams/{personas.team.pk}/join", {}, format="json"), 400)
    listing = f"/v1/teams/{personas.team.pk}/join-requests"
    denied(lambda: api_client(personas.member).get(listing), 403)
    assert [r["user_email"] for r in api_client(personas.owner).get(listing).json()] == ["outsider@example.com"]
    approve = f"{listing}/{request_id}/approve"
    denied(lambda: api_client(personas.outsider).post(approve), 403)
    denied(lambda: api_client(personas.member).post(approve), 403)
    assert api_client(personas.owner).post(approve).status_code == 200
    assert TeamMember.objects.filter(team=personas.team, user=personas.outsider).exists()
    denied(lambda: api_client(personas.owner).post(approve), 400)


def test_reject_join_request_and_private_teams_refuse(personas: Personas) -> None:
    denied(lambda: api_client(personas.outsider).post(f"/v1/teams/{personas.team.pk}/join", {}, format="json"), 404)
    Team.objects.filter(pk=personas.team.pk).update(visibility="public")
    request_id = (
        api_client(personas.outsider).post(f"/v1/teams/{personas.team.pk}/join", {}, format="json").json()["id"]
    )
    url = f"/v1/teams/{personas.team.pk}/join-requests/{request_id}"
    denied(lambda: api_client(personas.member).delete(url), 403)
    assert api_client(personas.owner).delete(url).status_code == 200
    assert TeamJoinRequest.objects.get(pk=int(request_id)).status == "rejected"
    assert not TeamMember.objects.filter(team=personas.team, user=personas.outsider).exists()
