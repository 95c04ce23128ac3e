"""App config for teams."""

from django.apps import AppConfig


class TeamsConfig(AppConfig):
    """Teams, memberships and visibility."""

    name = "apps.teams"
    label = "teams"
    verbose_name = "Teams"

    def ready(self) -> None:
        """Connect the signal handlers."""
        from django.db.models.signals import post_migrate

        from . import signals  # noqa: F401

        post_migrate.connect(_builtin_roles, sender=self)


def _builtin_roles(**kwargs) -> None:
    from .services import ensure_builtin_roles

    ensure_builtin_roles()
