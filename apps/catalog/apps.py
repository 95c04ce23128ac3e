"""App config for catalog."""

from django.apps import AppConfig


class CatalogConfig(AppConfig):
    """The catalog app."""

    name = "apps.catalog"
    label = "catalog"
    verbose_name = "Catalog"
