"""Top-level URL configuration. Each app mounts its own API and UI routes here."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from contextforge import health

urlpatterns = [
    path("health", health.health, name="health"),
    path("ready", health.ready, name="ready"),
    path("version", health.version, name="version"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("v1/", include("apps.accounts.api.urls")),
    path("v1/", include("apps.teams.api.urls")),
    path("v1/", include("apps.catalog.api.urls")),
    path("oauth/", include("apps.catalog.urls")),
    path("openapi.json", SpectacularAPIView.as_view(), name="openapi"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi"), name="docs"),
    path("redoc", SpectacularRedocView.as_view(url_name="openapi"), name="redoc"),
]
