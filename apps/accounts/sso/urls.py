"""Routes of the verified OIDC provider, mounted by allauth under /accounts/."""

from django.urls import include, path, re_path

from . import views

urlpatterns = [
    re_path(
        r"^oidc/(?P<provider_id>[^/]+)/",
        include(
            [
                path("login/", views.login, name="oidc_login"),
                path("login/callback/", views.callback, name="oidc_callback"),
            ]
        ),
    )
]
