"""App config for accounts."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users, credentials and sign-in."""

    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts"
