"""App config for accounts."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users, credentials and sign-in."""

    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        """Connect the SSO sign-in hook."""
        from allauth.account.signals import user_logged_in

        from .api import schema  # noqa: F401 - registers the OpenAPI auth extensions
        from .sso.adapter import sync_groups_on_login

        user_logged_in.connect(sync_groups_on_login, dispatch_uid="contextforge-sso-groups")
