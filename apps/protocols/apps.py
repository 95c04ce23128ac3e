"""App config: loads the protocol modules named in settings, once, at start-up."""

from django.apps import AppConfig


class ProtocolsConfig(AppConfig):
    """Fixes the module registry when Django starts."""

    name = "apps.protocols"
    label = "protocols"
    verbose_name = "Protocol modules"

    def ready(self) -> None:
        from django.conf import settings

        from .registry import registry

        registry.load(settings.PROTOCOL_MODULES)
