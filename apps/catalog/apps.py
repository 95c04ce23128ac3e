"""App config for catalog."""

from django.apps import AppConfig


class CatalogConfig(AppConfig):
    """The catalog app."""

    name = "apps.catalog"
    label = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        """Writes that change what callers resolve drop every worker's memoised answers; a bad
        PASSTHROUGH_HEADERS_DEFAULT stops the process before it serves."""
        from . import hotcache, passthrough

        hotcache.connect()
        passthrough.check_default_list()
