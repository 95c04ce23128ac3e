"""List filters of the catalog API: tags, team_id, visibility, gateway, enabled, ordering."""

from __future__ import annotations

import django_filters as filters
from django.db.models import Q

from apps.teams.models import Visibility

from .models import Gateway, Prompt, Resource, ResourceTemplate, Tool, VirtualServer

__all__ = [
    "GatewayFilterSet",
    "PromptFilterSet",
    "ResourceFilterSet",
    "ResourceTemplateFilterSet",
    "ServerFilterSet",
    "ToolFilterSet",
]


def _tags(queryset, name, value):
    """Rows carrying any of the comma-separated tags (tags are stored lower-case)."""
    condition = Q()
    for tag in {t.strip().lower() for t in value.split(",") if t.strip()}:
        condition |= Q(tags__icontains=f'"{tag}"')
    return queryset.filter(condition) if condition else queryset


class CatalogFilterSet(filters.FilterSet):
    """Filters every catalog list shares."""

    tags = filters.CharFilter(method=_tags, help_text="Comma-separated; rows with any of them.")
    team_id = filters.NumberFilter(field_name="team_id", min_value=1, max_value=2**63 - 1)
    visibility = filters.ChoiceFilter(choices=Visibility.choices)
    enabled = filters.BooleanFilter()
    ordering = filters.OrderingFilter(
        fields=(("name", "name"), ("created_at", "created_at"), ("updated_at", "updated_at"))
    )


class _GatewayLinked(CatalogFilterSet):
    gateway_id = filters.CharFilter(field_name="gateway_id")
    gateway = filters.CharFilter(field_name="gateway_id")


class GatewayFilterSet(CatalogFilterSet):
    """Gateway list filters (+ reachable, transport)."""

    reachable = filters.BooleanFilter()
    transport = filters.ChoiceFilter(choices=Gateway.Transport.choices)

    class Meta:
        model = Gateway
        fields = ["tags", "team_id", "visibility", "enabled", "reachable", "transport"]


class ToolFilterSet(_GatewayLinked):
    """Tool list filters (+ gateway, integration_type)."""

    integration_type = filters.ChoiceFilter(choices=Tool._meta.get_field("integration_type").choices)

    class Meta:
        model = Tool
        fields = ["tags", "team_id", "visibility", "enabled", "gateway_id", "integration_type"]


class ResourceFilterSet(_GatewayLinked):
    """Resource list filters."""

    ordering = filters.OrderingFilter(fields=(("uri", "uri"), ("name", "name"), ("created_at", "created_at")))

    class Meta:
        model = Resource
        fields = ["tags", "team_id", "visibility", "enabled", "gateway_id"]


class ResourceTemplateFilterSet(_GatewayLinked):
    """Resource template list filters."""

    class Meta:
        model = ResourceTemplate
        fields = ["tags", "team_id", "visibility", "enabled", "gateway_id"]


class PromptFilterSet(_GatewayLinked):
    """Prompt list filters."""

    class Meta:
        model = Prompt
        fields = ["tags", "team_id", "visibility", "enabled", "gateway_id"]


class ServerFilterSet(CatalogFilterSet):
    """Virtual server list filters."""

    class Meta:
        model = VirtualServer
        fields = ["tags", "team_id", "visibility", "enabled"]
