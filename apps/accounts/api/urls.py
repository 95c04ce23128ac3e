"""/v1 routes of accounts."""

from django.urls import path

from . import views

urlpatterns = [
    path("auth/email/login", views.LoginView.as_view(), name="auth-email-login"),
    path("auth/email/register", views.RegisterView.as_view(), name="auth-email-register"),
    path("auth/email/me", views.MeView.as_view(), name="auth-email-me"),
    path("auth/email/change-password", views.ChangePasswordView.as_view(), name="auth-email-change-password"),
    path("auth/email/admin/users", views.AdminUsersView.as_view(), name="auth-admin-users"),
    path("auth/email/admin/users/<str:user_email>", views.AdminUserDetailView.as_view(), name="auth-admin-user"),
    path("auth/email/admin/users/<str:user_email>/unlock", views.AdminUnlockView.as_view(), name="auth-admin-unlock"),
    path("tokens", views.TokensView.as_view(), name="tokens"),
    path("tokens/admin/all", views.AdminTokensView.as_view(), name="tokens-admin-all"),
    path("tokens/admin/<str:token_id>", views.AdminTokenRevokeView.as_view(), name="tokens-admin-revoke"),
    path("tokens/teams/<str:team_id>", views.TeamTokensView.as_view(), name="tokens-team"),
    path("tokens/<str:token_id>", views.TokenDetailView.as_view(), name="token"),
    path("tokens/<str:token_id>/usage", views.TokenUsageView.as_view(), name="token-usage"),
]
