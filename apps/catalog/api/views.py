"""Catalog REST API under /v1: thin viewsets over restricted querysets and the catalog services."""

from __future__ import annotations

import re
from typing import Any

from asgiref.sync import async_to_sync
from django.db.models import BooleanField, Count, ExpressionWrapper, IntegerField, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response

from apps.protocols.spi import CatalogError

from .. import invoke, services
from ..errors import InvalidInput
from ..filtersets import (
    GatewayFilterSet,
    PromptFilterSet,
    ResourceFilterSet,
    ResourceTemplateFilterSet,
    ServerFilterSet,
    ToolFilterSet,
)
from ..models import Gateway, Prompt, Resource, ResourceTemplate, ServerTool, Tool, VirtualServer
from ..openapi_import import MAX_SPEC_BYTES, check_spec, fetch_spec, parse_spec, tools_from_spec
from ..selectors import server_tool_names, visible
from . import serializers as s
from .base import CatalogViewSet, normalise_body, to_snake

CATALOG_ERROR_STATUS = {
    "not_found": 404,
    "invalid_arguments": 400,
    "forbidden": 403,
    "unavailable": 503,
    "timeout": 504,
    "cancelled": 499,
    "loop": 508,
}
ACTIVATE = OpenApiParameter("activate", bool, description="true to enable, false to disable", default=True)


def catalog_error_response(exc: CatalogError) -> Response:
    """A CatalogError from the invoke service as an HTTP answer."""
    return Response(
        {"detail": exc.message, "code": exc.code, **({"data": exc.data} if exc.data else {})},
        status=CATALOG_ERROR_STATUS.get(exc.code, 500),
    )


class EntityViewSet(CatalogViewSet):
    """List/create/retrieve/update/delete and state for one catalog model.

    Subclasses declare the model, serializers, filterset, body wrapper and the
    service functions; PUT and PATCH both change only the fields given (as ContextForge).
    """

    read_serializer: type[serializers.Serializer]
    input_serializer: type[serializers.Serializer]
    wrapper = ""
    aliases: dict[str, str] = {"is_active": "enabled", "custom_name": "display_name"}
    ignored: frozenset[str] = frozenset({"owner_email", "id"})
    create_service = None
    update_service = None

    def get_serializer_class(self):
        return self.read_serializer

    def service_data(self, partial: bool) -> dict[str, Any]:
        """The request body as service field names, type-checked by the input serializer."""
        data = self.prepare(normalise_body(self.request.data, self.wrapper, self.aliases, self.ignored))
        serializer = self.input_serializer(data=data, partial=partial)
        unknown = sorted(set(data) - set(serializer.fields))
        if unknown:
            raise InvalidInput({name: "is not a known field" for name in unknown})
        serializer.is_valid(raise_exception=True)
        values = {k: v for k, v in serializer.validated_data.items() if k in data}
        return self.to_service(_plain(values))

    def prepare(self, data: dict[str, Any]) -> dict[str, Any]:
        """Hook: reshape compatibility fields before type checks."""
        return data

    def to_service(self, data: dict[str, Any]) -> dict[str, Any]:
        """Hook: rename API fields to service fields."""
        return data

    def read(self, obj, **kwargs) -> Response:
        obj = self.get_queryset().get(pk=obj.pk)
        return Response(self.read_serializer(obj, context=self.get_serializer_context()).data, **kwargs)

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        return Response(self.get_serializer(self.get_object()).data)

    def create(self, request, *args, **kwargs):
        obj = type(self).create_service(self.principal, self.service_data(partial=False))
        return self.read(obj, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        obj = type(self).update_service(self.principal, self.kwargs["pk"], self.service_data(partial=True))
        return self.read(obj)

    partial_update = update

    def destroy(self, request, *args, **kwargs):
        services.delete_entity(self.principal, self.model, self.kwargs["pk"])
        kind = services.KIND_OF[self.model]
        return Response({"status": "success", "message": f"{kind} {self.kwargs['pk']} deleted"})

    def _set_state(self, request, pk):
        raw = request.query_params.get("activate")
        if raw is None and isinstance(request.data, dict):
            raw = request.data.get("activate", request.data.get("enabled"))
        if raw is None:
            raw = True
        if isinstance(raw, str):
            if raw.lower() not in ("true", "false", "1", "0"):
                raise InvalidInput("must be true or false", "activate")
            raw = raw.lower() in ("true", "1")
        if not isinstance(raw, bool):
            raise InvalidInput("must be true or false", "activate")
        obj = services.set_enabled(self.principal, self.model, pk, raw)
        kind = services.KIND_OF[self.model]
        body = self.read_serializer(self.get_queryset().get(pk=obj.pk), context=self.get_serializer_context()).data
        return Response(
            {"status": "success", "message": f"{kind} {obj.pk} {'activated' if raw else 'deactivated'}", kind: body}
        )

    @extend_schema(parameters=[ACTIVATE], request=None, responses=s.StateResponse)
    @action(detail=True, methods=["post"])
    def state(self, request, pk=None):
        """Enable (activate=true) or disable (activate=false)."""
        return self._set_state(request, pk)

    @extend_schema(parameters=[ACTIVATE], request=None, responses=s.StateResponse, deprecated=True)
    @action(detail=True, methods=["post"])
    def toggle(self, request, pk=None):
        """Same as /state (ContextForge's older name)."""
        return self._set_state(request, pk)


def _plain(value):
    """OrderedDicts and ReturnDicts from serializers as plain dicts/lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _schema(input_serializer, read_serializer, *, tag: str | None = None):
    return extend_schema(request=input_serializer, responses=read_serializer, **({"tags": [tag]} if tag else {}))


# --- Gateways -------------------------------------------------------------------------


def _count(model, field: str = "gateway"):
    rows = model.objects.filter(**{field: OuterRef("pk")}).order_by().values(field).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


@extend_schema(tags=["Gateways"])
class GatewayViewSet(EntityViewSet):
    """Upstream MCP servers and peer gateways."""

    model = Gateway
    read_serializer = s.GatewayRead
    input_serializer = s.GatewayInput
    filterset_class = GatewayFilterSet
    wrapper = "gateway"
    create_service = services.create_gateway
    update_service = services.update_gateway

    def base_queryset(self):
        return (
            super()
            .base_queryset()
            .annotate(tool_count=_count(Tool), resource_count=_count(Resource), prompt_count=_count(Prompt))
        )

    def prepare(self, data):
        """ContextForge's flat auth fields (authUsername, authToken, authHeaders...) as credentials."""
        flat = {
            k: data.pop(k)
            for k in list(data)
            if (k.startswith("auth_") and k != "auth_type") or k in ("oauth_config", "one_time_auth")
        }
        flat.pop("one_time_auth", None)
        if flat and "credentials" not in data:
            auth_type = data.get("auth_type")
            creds: dict[str, Any] = {}
            if auth_type == "basic":
                creds = {"username": flat.get("auth_username"), "password": flat.get("auth_password")}
            elif auth_type == "bearer":
                creds = {"token": flat.get("auth_token") or flat.get("auth_value")}
            elif auth_type in ("headers", "authheaders"):
                data["auth_type"] = "headers"
                pairs = flat.get("auth_headers") or []
                headers = {p.get("key"): p.get("value") for p in pairs if isinstance(p, dict)}
                if flat.get("auth_header_key"):
                    headers[flat["auth_header_key"]] = flat.get("auth_header_value")
                creds = {"headers": headers}
            elif auth_type == "query_param":
                creds = {"key": flat.get("auth_query_param_key"), "value": flat.get("auth_query_param_value")}
            elif auth_type == "oauth":
                creds = {"config": flat.get("oauth_config")}
            else:
                raise InvalidInput({k: "needs a matching auth_type" for k in flat})
            data["credentials"] = {k: v for k, v in creds.items() if v is not None}
        return data

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "GatewayRefreshResponse",
            {
                "gatewayId": serializers.CharField(),
                "success": serializers.BooleanField(),
                "error": serializers.CharField(allow_null=True),
                "toolsAdded": serializers.IntegerField(),
                "toolsUpdated": serializers.IntegerField(),
                "toolsRemoved": serializers.IntegerField(),
            },
        ),
    )
    @action(detail=True, methods=["post"], url_path="tools/refresh")
    def refresh(self, request, pk=None):
        """Re-discover the gateway's tools, resources and prompts through the upstream runtime."""
        return Response(services.refresh_gateway(self.principal, pk))


GatewayViewSet.create = _schema(s.GatewayInput, s.GatewayRead, tag="Gateways")(GatewayViewSet.create)


# --- Tools ----------------------------------------------------------------------------


@extend_schema(tags=["Tools"])
class ToolViewSet(EntityViewSet):
    """Tools: local REST tools and federated ones (read-mostly)."""

    model = Tool
    read_serializer = s.ToolRead
    input_serializer = s.ToolInput
    filterset_class = ToolFilterSet
    wrapper = "tool"
    create_service = services.create_tool
    update_service = services.update_tool
    search_fields = ("name", "display_name", "description", "original_name")
    ignored = EntityViewSet.ignored | {"gateway_id"}

    def base_queryset(self):
        return super().base_queryset().select_related("gateway")

    def prepare(self, data):
        """ContextForge's ``auth`` object ({auth_type, username, password, token, ...}) as credentials."""
        auth = data.pop("auth", None)
        if isinstance(auth, dict) and "credentials" not in data:
            auth = {to_snake(k): v for k, v in auth.items()}
            auth_type = auth.get("auth_type") or "none"
            data.setdefault("auth_type", auth_type)
            creds = {
                "basic": {"username": auth.get("username"), "password": auth.get("password")},
                "bearer": {"token": auth.get("token") or auth.get("auth_value")},
                "headers": {"headers": {auth.get("auth_header_key"): auth.get("auth_header_value")}}
                if auth.get("auth_header_key")
                else {"headers": auth.get("headers")},
            }.get(auth_type)
            if creds is not None:
                data["credentials"] = {k: v for k, v in creds.items() if v is not None}
        elif auth is not None:
            raise InvalidInput("must be an object", "auth")
        return data

    @extend_schema(
        request=s.GenerateSchemasInput,
        responses=inline_serializer(
            "GeneratedSchemas",
            {
                "tools": serializers.ListField(child=serializers.DictField()),
                "inputSchema": serializers.DictField(allow_null=True),
                "outputSchema": serializers.DictField(allow_null=True),
            },
        ),
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="generate-schemas-from-openapi",
        parser_classes=[JSONParser, MultiPartParser],
    )
    def generate_schemas(self, request):
        """Tool definitions from an OpenAPI 3 document (``openapi_url``, inline ``spec`` or uploaded ``file``).

        With ``url`` (and ``request_type``), the operation at that URL is picked out and
        its schemas are also returned as ``inputSchema``/``outputSchema``.
        """
        upload = request.FILES.get("file") if hasattr(request, "FILES") else None
        data = {k: v for k, v in request.data.items() if k != "file"}
        body = s.GenerateSchemasInput(data=data)
        body.is_valid(raise_exception=True)
        values = body.validated_data
        url, source = values.get("url") or "", values.get("openapi_url") or ""
        if upload is not None:
            spec = parse_spec(upload.read(MAX_SPEC_BYTES + 1), "file")
        elif values.get("spec") is not None:
            spec = check_spec(values["spec"], "spec")
        else:
            if not source and url:
                parts = url.split("/", 3)
                source = "/".join(parts[:3]) + "/openapi.json" if len(parts) >= 3 else ""
            if not source:
                raise InvalidInput("give openapi_url, spec, a file, or the url of an operation", "openapi_url")
            spec = fetch_spec(source)
        tools = tools_from_spec(spec, source_url=source or None, base_url=values.get("base_url") or None)
        answer: dict[str, Any] = {"tools": tools, "inputSchema": None, "outputSchema": None}
        if url:
            method = (values.get("request_type") or "GET").upper()
            match = next((t for t in tools if t["url"] == url and t["request_type"] == method), None)
            if match is None:
                match = next(
                    (t for t in tools if _template_matches(t["url"], url) and t["request_type"] == method), None
                )
            if match is None:
                raise InvalidInput(f"no {method} operation at this URL in the OpenAPI document", "url")
            answer["inputSchema"], answer["outputSchema"] = match["inputSchema"], match["outputSchema"]
        return Response(answer)


def _template_matches(template: str, url: str) -> bool:
    pattern = re.escape(template)
    pattern = re.sub(r"\\\{[A-Za-z_][A-Za-z0-9_]*\\\}", r"[^/]+", pattern)
    return re.fullmatch(pattern, url) is not None


ToolViewSet.create = _schema(s.ToolInput, s.ToolRead, tag="Tools")(ToolViewSet.create)


# --- Resources ------------------------------------------------------------------------


@extend_schema(tags=["Resources"])
class ResourceViewSet(EntityViewSet):
    """Resources: local text/binary content, or federated references."""

    model = Resource
    read_serializer = s.ResourceRead
    input_serializer = s.ResourceInput
    filterset_class = ResourceFilterSet
    wrapper = "resource"
    create_service = services.create_resource
    update_service = services.update_resource
    search_fields = ("name", "uri", "description")

    def base_queryset(self):
        binary = ExpressionWrapper(Q(text_content__isnull=True, gateway__isnull=True), output_field=BooleanField())
        return (
            super()
            .base_queryset()
            .select_related("gateway")
            .defer("text_content", "binary_content")
            .annotate(is_binary=binary)
        )

    @extend_schema(
        responses=inline_serializer(
            "ResourceContent",
            {
                "type": serializers.CharField(),
                "id": serializers.CharField(),
                "uri": serializers.CharField(),
                "mimeType": serializers.CharField(allow_null=True),
                "text": serializers.CharField(required=False),
                "blob": serializers.CharField(required=False),
            },
        )
    )
    def retrieve(self, request, *args, **kwargs):
        """Read the resource's content (metadata is at /info)."""
        resource = self.get_object()
        try:
            contents = async_to_sync(invoke.read_resource)(self.principal, resource.uri, resource_id=resource.pk)
        except CatalogError as exc:
            return catalog_error_response(exc)
        first = contents[0] if contents else None
        body = {
            "type": "resource",
            "id": resource.pk,
            "uri": resource.uri,
            "mimeType": first.mime_type if first else None,
        }
        if first is not None and first.blob is not None:
            body["blob"] = first.blob
        else:
            body["text"] = first.text if first else ""
        return Response(body)

    @extend_schema(responses=s.ResourceRead)
    @action(detail=True, methods=["get"])
    def info(self, request, pk=None):
        """The resource's metadata."""
        return Response(self.get_serializer(self.get_object()).data)


@extend_schema(tags=["Resources"])
class ResourceTemplateViewSet(EntityViewSet):
    """Resource templates (RFC 6570)."""

    model = ResourceTemplate
    read_serializer = s.ResourceTemplateRead
    input_serializer = s.ResourceTemplateInput
    filterset_class = ResourceTemplateFilterSet
    wrapper = "resource_template"
    create_service = services.create_resource_template
    update_service = services.update_resource_template
    search_fields = ("name", "uri_template", "description")

    def base_queryset(self):
        return super().base_queryset().select_related("gateway")

    @extend_schema(
        responses=inline_serializer(
            "ListResourceTemplatesResult",
            {
                "resource_templates": s.ResourceTemplateRead(many=True),
                "next_cursor": serializers.CharField(allow_null=True),
            },
        )
    )
    def list_result(self, request):
        """Every visible enabled template, in ContextForge's ListResourceTemplatesResult shape."""
        self.action = "list"
        rows = self.filter_queryset(self.get_queryset())[:500]
        return Response({"resource_templates": self.get_serializer(rows, many=True).data, "next_cursor": None})


ResourceViewSet.create = _schema(s.ResourceInput, s.ResourceRead, tag="Resources")(ResourceViewSet.create)
ResourceTemplateViewSet.create = _schema(s.ResourceTemplateInput, s.ResourceTemplateRead, tag="Resources")(
    ResourceTemplateViewSet.create
)


# --- Prompts --------------------------------------------------------------------------


@extend_schema(tags=["Prompts"])
class PromptViewSet(EntityViewSet):
    """Prompts: sandboxed Jinja2 templates and federated prompts."""

    model = Prompt
    read_serializer = s.PromptRead
    input_serializer = s.PromptInput
    filterset_class = PromptFilterSet
    wrapper = "prompt"
    create_service = services.create_prompt
    update_service = services.update_prompt
    search_fields = ("name", "display_name", "description")

    def base_queryset(self):
        return super().base_queryset().select_related("gateway")

    @extend_schema(
        request=inline_serializer("PromptArguments", {"args": serializers.DictField(child=serializers.CharField())}),
        responses=s.RenderedPrompt,
        operation_id="v1_prompts_render",
    )
    def render(self, request, pk=None):
        """Render the prompt with arguments (a JSON object of strings, or {"args": {...}})."""
        prompt = self.get_object()
        args = request.data if isinstance(request.data, dict) else None
        if args is None:
            raise InvalidInput("must be a JSON object of argument names to strings", "arguments")
        if set(args) == {"args"} and isinstance(args["args"], dict):
            args = args["args"]
        try:
            result = async_to_sync(invoke.get_prompt)(self.principal, "", dict(args), prompt_id=prompt.pk)
        except CatalogError as exc:
            return catalog_error_response(exc)
        return Response({"messages": result.messages, "description": result.description})


PromptViewSet.create = _schema(s.PromptInput, s.PromptRead, tag="Prompts")(PromptViewSet.create)


# --- Virtual servers ------------------------------------------------------------------


@extend_schema(tags=["Servers"])
class ServerViewSet(EntityViewSet):
    """Virtual servers: bundles of tools (with aliases), resources and prompts."""

    model = VirtualServer
    read_serializer = s.ServerRead
    input_serializer = s.ServerInput
    filterset_class = ServerFilterSet
    wrapper = "server"
    create_service = services.create_server
    update_service = services.update_server

    def base_queryset(self):
        return (
            super()
            .base_queryset()
            .prefetch_related(
                Prefetch(
                    "server_tools",
                    queryset=ServerTool.objects.select_related("tool").only(
                        "server_id", "tool_id", "alias", "tool__name"
                    ),
                ),
                Prefetch("resources", queryset=Resource.objects.only("id")),
                Prefetch("resource_templates", queryset=ResourceTemplate.objects.only("id")),
                Prefetch("prompts", queryset=Prompt.objects.only("id")),
            )
        )

    def to_service(self, data):
        renames = {
            "associated_tools": "tools",
            "associated_resources": "resources",
            "associated_resource_templates": "resource_templates",
            "associated_prompts": "prompts",
        }
        aliases = data.pop("tool_aliases", None) or {}
        result = {renames.get(k, k): v for k, v in data.items()}
        if aliases:
            if "tools" not in result:
                raise InvalidInput("tool_aliases needs associated_tools in the same request", "tool_aliases")
            ids = {str(t) if not isinstance(t, dict) else str(t.get("id")) for t in result["tools"] or []}
            stray = sorted(set(aliases) - ids)
            if stray:
                raise InvalidInput(f"aliases for tools not in associated_tools: {', '.join(stray)}", "tool_aliases")
            result["tools"] = [
                {"id": t, "alias": aliases[str(t)]} if not isinstance(t, dict) and str(t) in aliases else t
                for t in result["tools"]
            ]
        return result

    @extend_schema(responses=s.ServerToolRead(many=True))
    @action(detail=True, methods=["get"])
    def tools(self, request, pk=None):
        """The server's tools, each with the name it is exposed by in this server."""
        server = self.get_object()
        names = server_tool_names(server)
        rows = visible(Tool, self.principal).filter(pk__in=list(names)).select_related("team", "owner", "gateway")
        rows = sorted(rows, key=lambda t: (names[t.pk], t.pk))
        context = {**self.get_serializer_context(), "exposed": names}
        return Response(s.ServerToolRead(rows, many=True, context=context).data)

    @extend_schema(responses=s.ResourceRead(many=True))
    @action(detail=True, methods=["get"])
    def resources(self, request, pk=None):
        """The server's resources."""
        server = self.get_object()
        rows = visible(Resource, self.principal).filter(servers=server).select_related("team", "owner", "gateway")
        return Response(s.ResourceRead(rows.order_by("uri", "id"), many=True).data)

    @extend_schema(responses=s.PromptRead(many=True))
    @action(detail=True, methods=["get"])
    def prompts(self, request, pk=None):
        """The server's prompts."""
        server = self.get_object()
        rows = visible(Prompt, self.principal).filter(servers=server).select_related("team", "owner", "gateway")
        return Response(s.PromptRead(rows.order_by("name", "id"), many=True).data)


ServerViewSet.create = _schema(s.ServerInput, s.ServerRead, tag="Servers")(ServerViewSet.create)

for _viewset in (GatewayViewSet, ToolViewSet, ResourceViewSet, ResourceTemplateViewSet, PromptViewSet, ServerViewSet):
    _viewset.update = _schema(_viewset.input_serializer, _viewset.read_serializer)(_viewset.update)
    _viewset.partial_update = _viewset.update

__all__ = [
    "GatewayViewSet",
    "PromptViewSet",
    "ResourceTemplateViewSet",
    "ResourceViewSet",
    "ServerViewSet",
    "ToolViewSet",
    "catalog_error_response",
]
