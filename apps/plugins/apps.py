"""App config for plugins."""

from django.apps import AppConfig


class PluginsConfig(AppConfig):
    """The plugins app."""

    name = "apps.plugins"
    label = "plugins"
    verbose_name = "Plugins"
