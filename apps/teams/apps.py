"""App config for teams."""

from django.apps import AppConfig


class TeamsConfig(AppConfig):
    """Teams, memberships and visibility."""

    name = "apps.teams"
    label = "teams"
    verbose_name = "Teams"

    def ready(self) -> None:
        """Connect the signal handlers."""
        from . import signals  # noqa: F401
