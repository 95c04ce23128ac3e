"""App config for catalog."""

from django.apps import AppConfig


class CatalogConfig(AppConfig):
    """The catalog app."""

    name = "apps.catalog"
    label = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        """Writes that change what callers resolve drop every worker's memoised answers."""
        from . import hotcache

        hotcache.connect()
