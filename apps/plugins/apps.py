"""App config for plugins."""

from django.apps import AppConfig


class PluginsConfig(AppConfig):
    """The plugins app: loads the configured plugins once, at start-up."""

    name = "apps.plugins"
    label = "plugins"
    verbose_name = "Plugins"

    def ready(self) -> None:
        from .registry import registry

        registry.load_from_settings()
