"""Catalog routes outside the REST API: the upstream OAuth endpoints (mounted at /oauth/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("authorize/<str:gateway_id>", views.OAuthAuthorizeView.as_view(), name="oauth-authorize"),
    path("callback", views.OAuthCallbackView.as_view(), name="oauth-callback"),
    path("status/<str:gateway_id>", views.OAuthStatusView.as_view(), name="oauth-status"),
    path("client-metadata.json", views.ClientMetadataView.as_view(), name="oauth-client-metadata"),
]
