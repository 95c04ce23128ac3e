"""/v1 routes of teams and RBAC."""

from django.urls import path

from . import views

urlpatterns = [
    path("teams/", views.TeamsView.as_view(), name="teams"),
    path("teams/discover", views.DiscoverView.as_view(), name="teams-discover"),
    path("teams/invitations/<str:token>/accept", views.AcceptInvitationView.as_view(), name="invitation-accept"),
    path("teams/invitations/<str:invitation_id>", views.InvitationDetailView.as_view(), name="invitation"),
    path("teams/<str:team_id>", views.TeamDetailView.as_view(), name="team"),
    path("teams/<str:team_id>/members", views.MembersView.as_view(), name="team-members"),
    path("teams/<str:team_id>/members/<str:user_email>", views.MemberDetailView.as_view(), name="team-member"),
    path("teams/<str:team_id>/invitations", views.InvitationsView.as_view(), name="team-invitations"),
    path("teams/<str:team_id>/join", views.JoinView.as_view(), name="team-join"),
    path("teams/<str:team_id>/leave", views.LeaveView.as_view(), name="team-leave"),
    path("teams/<str:team_id>/join-requests", views.JoinRequestsView.as_view(), name="team-join-requests"),
    path(
        "teams/<str:team_id>/join-requests/<str:request_id>/approve",
        views.ApproveJoinView.as_view(),
        name="team-join-approve",
    ),
    path(
        "teams/<str:team_id>/join-requests/<str:request_id>",
        views.JoinRequestDetailView.as_view(),
        name="team-join-request",
    ),
    path("rbac/roles", views.RolesView.as_view(), name="rbac-roles"),
    path("rbac/roles/<str:role_id>", views.RoleDetailView.as_view(), name="rbac-role"),
    path("rbac/users/<str:user_email>/roles", views.UserRolesView.as_view(), name="rbac-user-roles"),
    path("rbac/users/<str:user_email>/roles/<str:role_id>", views.UserRoleDetailView.as_view(), name="rbac-user-role"),
    path("rbac/permissions/check", views.PermissionCheckView.as_view(), name="rbac-check"),
    path("rbac/permissions/user/<str:user_email>", views.UserPermissionsView.as_view(), name="rbac-user-permissions"),
    path("rbac/permissions/available", views.AvailablePermissionsView.as_view(), name="rbac-available"),
    path("rbac/my/roles", views.MyRolesView.as_view(), name="rbac-my-roles"),
    path("rbac/my/permissions", views.MyPermissionsView.as_view(), name="rbac-my-permissions"),
]
