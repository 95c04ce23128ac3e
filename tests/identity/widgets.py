"""A tenant-owned model that exists only in tests, to exercise ``visible_to`` on a real table."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models

from apps.teams.models import OwnedModel


class Widget(OwnedModel):
    """A stand-in catalog object: tools-family, reachable from one virtual server."""

    name = models.CharField(max_length=50)
    server_id = models.CharField(max_length=50, blank=True)

    permission_family = "tools"
    server_scope_lookup = "server_id"

    class Meta:
        app_label = "identity_tests"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


@pytest.fixture
def widget_table(transactional_db):
    """Create the Widget table (and its guardian permissions) for one test."""
    with connection.schema_editor() as editor:
        editor.create_model(Widget)
    content_type = ContentType.objects.get_for_model(Widget)
    for action in ("view", "change", "delete"):
        Permission.objects.get_or_create(
            content_type=content_type, codename=f"{action}_widget", defaults={"name": f"Can {action} widget"}
        )
    yield Widget
    with connection.schema_editor() as editor:
        editor.delete_model(Widget)
