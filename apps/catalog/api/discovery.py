"""Cross-entity endpoints: /v1/tags and /v1/search, over the caller's visible rows only."""

from __future__ import annotations

from collections import defaultdict

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.teams.principals import principal_of

from ..errors import InvalidInput
from ..models import Gateway, Prompt, Resource, Tool, VirtualServer
from ..selectors import search_filter, visible
from .base import catalog_exception_handler

__all__ = ["SearchView", "TagsView"]

#: entity type (plural, as ContextForge names them) -> (model, name field, searched fields)
ENTITY_TYPES = {
    "tools": (Tool, "name", ["name", "display_name", "description", "original_name"]),
    "resources": (Resource, "name", ["name", "uri", "description"]),
    "prompts": (Prompt, "name", ["name", "display_name", "description"]),
    "servers": (VirtualServer, "name", ["name", "description"]),
    "gateways": (Gateway, "name", ["name", "description", "url"]),
}


def _entity_types(raw: str | None) -> list[str]:
    if not raw:
        return list(ENTITY_TYPES)
    wanted = [t.strip().lower() for t in raw.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in ENTITY_TYPES]
    if unknown:
        raise InvalidInput(f"unknown entity type(s) {unknown}; known: {', '.join(ENTITY_TYPES)}", "entity_types")
    return wanted


def _bounded_int(raw: str | None, field: str, default: int, maximum: int) -> int:
    if raw in (None, ""):
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise InvalidInput(f"must be a whole number between 1 and {maximum}", field)
    return int(raw)


ENTITY_TYPES_PARAM = OpenApiParameter("entity_types", str, description="Comma-separated: " + ", ".join(ENTITY_TYPES))


class CatalogAPIView(APIView):
    """Authenticated, catalog error format."""

    permission_classes = [IsAuthenticated]

    def get_exception_handler(self):
        return catalog_exception_handler


class TagsView(CatalogAPIView):
    """Every tag in use on visible entities, with counts per entity type."""

    @extend_schema(
        tags=["Tags"],
        parameters=[ENTITY_TYPES_PARAM, OpenApiParameter("include_entities", bool, default=False)],
        responses=inline_serializer(
            "TagInfo",
            {
                "name": serializers.CharField(),
                "stats": serializers.DictField(child=serializers.IntegerField()),
                "entities": serializers.ListField(child=serializers.DictField(), allow_null=True),
            },
            many=True,
        ),
    )
    def get(self, request):
        principal = principal_of(request)
        types = _entity_types(request.query_params.get("entity_types"))
        include = request.query_params.get("include_entities") in ("true", "1")
        stats: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys([*types, "total"], 0))
        entities: dict[str, list] = defaultdict(list)
        for kind in types:
            model, name_field, _ = ENTITY_TYPES[kind]
            for pk, name, tags in visible(model, principal).values_list("pk", name_field, "tags"):
                for tag in tags or []:
                    stats[tag][kind] += 1
                    stats[tag]["total"] += 1
                    if include:
                        entities[tag].append({"id": pk, "name": name, "type": kind[:-1]})
        return Response(
            [
                {"name": tag, "stats": stats[tag], "entities": entities[tag] if include else None}
                for tag in sorted(stats)
            ]
        )


class SearchView(CatalogAPIView):
    """One text query across every entity type the caller can see."""

    @extend_schema(
        tags=["Search"],
        parameters=[
            OpenApiParameter("q", str, description="Text to find in names and descriptions"),
            ENTITY_TYPES_PARAM,
            OpenApiParameter("tags", str, description="Comma-separated; entities with any of them"),
            OpenApiParameter("include_inactive", bool, default=False),
            OpenApiParameter("limit_per_type", int, default=20),
        ],
        responses=inline_serializer(
            "SearchResults",
            {
                "query": serializers.CharField(),
                "total": serializers.IntegerField(),
                "results": serializers.DictField(child=serializers.ListField(child=serializers.DictField())),
            },
        ),
    )
    def get(self, request):
        principal = principal_of(request)
        params = request.query_params
        text = (params.get("q") or "").strip()
        if len(text) > 255:
            raise InvalidInput("is longer than 255 characters", "q")
        types = _entity_types(params.get("entity_types"))
        limit = _bounded_int(params.get("limit_per_type") or params.get("limit"), "limit_per_type", 20, 500)
        tags = [t.strip().lower() for t in (params.get("tags") or "").split(",") if t.strip()]
        results: dict[str, list] = {}
        for kind in types:
            model, name_field, fields = ENTITY_TYPES[kind]
            qs = visible(model, principal)
            if params.get("include_inactive") not in ("true", "1"):
                qs = qs.filter(enabled=True)
            if text:
                qs = qs.filter(search_filter(text, fields))
            for tag in tags:
                qs = qs.filter(tags__icontains=f'"{tag}"')
            rows = qs.order_by(name_field, "pk").values("pk", name_field, "description", "tags")[:limit]
            results[kind] = [
                {
                    "id": r["pk"],
                    "name": r[name_field],
                    "description": r["description"],
                    "tags": r["tags"],
                    "type": kind[:-1],
                }
                for r in rows
            ]
        return Response({"query": text, "total": sum(len(v) for v in results.values()), "results": results})
