"""Reading the catalog under a caller's visibility: the only road from a caller to catalog rows.

Besides team/visibility (``visible_to``), a scoped token's ``scope_server_ids`` narrows
what a caller reaches to those virtual servers and the entities they bundle. Lists come
in a stable order (exposed name, then id).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, IntegerField, Model, Q, QuerySet, Value, When

from apps.accounts.principal import Principal

from .errors import NotFound
from .models import Prompt, Resource, ResourceTemplate, ServerTool, Tool, VirtualServer
from .names import ExposedTool, NameCollision, exposed_tool_names

logger = logging.getLogger(__name__)

__all__ = [
    "Exposed",
    "exposed_prompts",
    "exposed_resource_templates",
    "exposed_resources",
    "exposed_tools",
    "get_server",
    "resolve_prompt",
    "resolve_resource",
    "resolve_tool",
    "server_tool_names",
    "visible",
]


def visible(model: type[Model], principal: Principal, action: str = "view") -> QuerySet:
    """The rows of ``model`` the principal may ``action``.

    ``visible_to`` applies team/visibility, shares and token narrowing (a server-scoped
    token reaches only rows bundled in its servers, via ``Model.server_scope_lookup``).
    """
    return model.objects.visible_to(principal, action)


def get_server(principal: Principal, server_id: str) -> VirtualServer:
    """An enabled virtual server the caller may see, else NotFound."""
    server = visible(VirtualServer, principal).filter(pk=str(server_id), enabled=True).first()
    if server is None:
        raise NotFound(f"server {server_id} not found")
    return server


@dataclass(frozen=True)
class Exposed:
    """An entity under the name a caller sees it by."""

    name: str
    obj: Any


def _mine_first(principal: Principal) -> Case:
    return Case(
        When(owner_id=principal.user_id, then=Value(0)),
        When(team_id__in=list(principal.team_ids), then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )


def _dedupe(rows: list[Any], key) -> list[Exposed]:
    seen: set[str] = set()
    result = []
    for obj in rows:
        name = key(obj)
        if name not in seen:
            seen.add(name)
            result.append(Exposed(name, obj))
    return result


def _gateway_wide(model: type[Model], principal: Principal, key_field: str) -> list[Exposed]:
    """Every enabled visible row, one per name (own rows, then own teams', then oldest win)."""
    rows = (
        visible(model, principal)
        .filter(enabled=True)
        .select_related("gateway")
        .annotate(_rank=_mine_first(principal))
        .order_by(key_field, "_rank", "created_at", "id")
    )
    return _dedupe(list(rows), lambda o: getattr(o, key_field))


def _server_names(members: list[ExposedTool]) -> dict[str, str]:
    """Exposed names of a server's members; drifted data falls back to namespaced names."""
    try:
        return exposed_tool_names(members)
    except NameCollision as exc:
        logger.warning("server members collide (%s); exposing namespaced names", exc)
        return {m.tool_id: m.namespaced_name for m in members}


def server_tool_names(server: VirtualServer) -> dict[str, str]:
    """Exposed name of every enabled tool of a server, by tool id."""
    links = ServerTool.objects.filter(server=server, tool__enabled=True).select_related("tool")
    return _server_names([ExposedTool(st.tool_id, st.tool.original_name, st.tool.name, st.alias) for st in links])


def exposed_tools(principal: Principal, server_id: str | None = None) -> list[Exposed]:
    """Tools of one server under their exposed names, or gateway-wide under namespaced names."""
    if server_id is None:
        return _gateway_wide(Tool, principal, "name")
    server = get_server(principal, server_id)
    links = list(ServerTool.objects.filter(server=server, tool__enabled=True).select_related("tool", "tool__gateway"))
    names = _server_names([ExposedTool(st.tool_id, st.tool.original_name, st.tool.name, st.alias) for st in links])
    allowed = set(visible(Tool, principal).filter(pk__in=[st.tool_id for st in links]).values_list("pk", flat=True))
    rows = sorted((Exposed(names[st.tool_id], st.tool) for st in links if st.tool_id in allowed), key=lambda e: e.name)
    return _dedupe([e.obj for e in rows], lambda o: names[o.pk])


def exposed_prompts(principal: Principal, server_id: str | None = None) -> list[Exposed]:
    """Prompts of one server (original names unless they collide), or gateway-wide by name."""
    if server_id is None:
        return _gateway_wide(Prompt, principal, "name")
    server = get_server(principal, server_id)
    prompts = list(visible(Prompt, principal).filter(servers=server, enabled=True).select_related("gateway"))
    names = _server_names([ExposedTool(p.pk, p.original_name, p.name) for p in prompts])
    return _dedupe(sorted(prompts, key=lambda p: (names[p.pk], p.pk)), lambda p: names[p.pk])


def exposed_resources(principal: Principal, server_id: str | None = None) -> list[Exposed]:
    """Resources by URI, of one server or gateway-wide."""
    if server_id is None:
        return _gateway_wide(Resource, principal, "uri")
    server = get_server(principal, server_id)
    rows = visible(Resource, principal).filter(servers=server, enabled=True).select_related("gateway")
    return _dedupe(list(rows.order_by("uri", "id")), lambda r: r.uri)


def exposed_resource_templates(principal: Principal, server_id: str | None = None) -> list[Exposed]:
    """Resource templates by URI template, of one server or gateway-wide."""
    if server_id is None:
        return _gateway_wide(ResourceTemplate, principal, "uri_template")
    server = get_server(principal, server_id)
    rows = visible(ResourceTemplate, principal).filter(servers=server, enabled=True)
    return _dedupe(list(rows.order_by("uri_template", "id")), lambda r: r.uri_template)


def _pick(entries: list[Exposed], name: str, kind: str) -> Any:
    for entry in entries:
        if entry.name == name:
            return entry.obj
    raise NotFound(f"{kind} {name!r} not found")


def resolve_tool(principal: Principal, name: str, server_id: str | None = None) -> Tool:
    """The tool a caller means by ``name`` (in a server, or gateway-wide), else NotFound."""
    if server_id is None:
        rows = visible(Tool, principal).filter(name=name, enabled=True).select_related("gateway")
        rows = rows.annotate(_rank=_mine_first(principal)).order_by("_rank", "created_at", "id")
        tool = rows.first()
        if tool is None:
            raise NotFound(f"tool {name!r} not found")
        return tool
    return _pick(exposed_tools(principal, server_id), name, "tool")


def resolve_prompt(principal: Principal, name: str, server_id: str | None = None) -> Prompt:
    """The prompt a caller means by ``name``, else NotFound."""
    return _pick(exposed_prompts(principal, server_id), name, "prompt")


def resolve_resource(principal: Principal, uri: str, server_id: str | None = None) -> Resource:
    """The resource with this URI the caller may read, else NotFound."""
    rows = visible(Resource, principal).filter(uri=uri, enabled=True).select_related("gateway")
    if server_id is not None:
        rows = rows.filter(servers=get_server(principal, server_id))
    resource = rows.annotate(_rank=_mine_first(principal)).order_by("_rank", "created_at", "id").first()
    if resource is None:
        raise NotFound(f"resource {uri!r} not found")
    return resource


def _template_pattern(template: str) -> re.Pattern[str] | None:
    """A regex matching the URIs an RFC 6570 level-1 template expands to (``{var}`` → one segment)."""
    parts = re.split(r"(\{[^{}]*\})", template)
    if len(parts) == 1:
        return None
    regex = "".join("[^/]+" if p.startswith("{") and p.endswith("}") else re.escape(p) for p in parts)
    return re.compile(f"^{regex}$")


def resolve_federated_template(principal: Principal, uri: str, server_id: str | None = None) -> ResourceTemplate:
    """The federated resource template the caller may read whose URI template matches ``uri``, else NotFound."""
    rows = visible(ResourceTemplate, principal).filter(enabled=True, gateway__isnull=False).select_related("gateway")
    if server_id is not None:
        rows = rows.filter(servers=get_server(principal, server_id))
    for template in rows.annotate(_rank=_mine_first(principal)).order_by("_rank", "created_at", "id")[:500]:
        pattern = _template_pattern(template.uri_template)
        if pattern is not None and pattern.match(uri):
            return template
    raise NotFound(f"resource {uri!r} not found")


def search_filter(text: str, fields: list[str]) -> Q:
    """A case-insensitive OR of ``icontains`` over fields."""
    condition = Q()
    for field in fields:
        condition |= Q(**{f"{field}__icontains": text})
    return condition
