"""Embedded CatalogService: the SPI's catalog family served in-process over apps.catalog.

Lists come in a stable order (by exposed name / URI). Every failure is a CatalogError:
not_found for missing or invisible entities, invalid_arguments (with the JSON Schema
message) for bad tool arguments, unavailable, timeout, forbidden (a plugin blocked it).
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async

from apps.catalog import hotcache, invoke, selectors
from apps.catalog.errors import NotFound
from apps.protocols.spi import (
    CallerContext,
    CallOptions,
    CatalogError,
    PromptArgumentSpec,
    PromptResult,
    PromptSpec,
    ResourceContents,
    ResourceSpec,
    ResourceTemplateSpec,
    ServerSpec,
    ToolResult,
    ToolSpec,
)

__all__ = ["EmbeddedCatalogService"]


def _tool_spec(entry: selectors.Exposed) -> ToolSpec:
    tool = entry.obj
    return ToolSpec(
        id=str(tool.pk),
        name=entry.name,
        description=tool.description,
        input_schema=tool.input_schema or {"type": "object"},
        output_schema=tool.output_schema,
        title=tool.title or tool.display_name or None,
        annotations=tool.annotations or None,
        meta=tool.meta or None,
    )


def _resource_spec(entry: selectors.Exposed) -> ResourceSpec:
    r = entry.obj
    return ResourceSpec(
        uri=r.uri,
        name=r.name,
        description=r.description,
        mime_type=r.mime_type or None,
        size=r.size,
        title=r.title or None,
        annotations=r.annotations or None,
    )


def _template_spec(entry: selectors.Exposed) -> ResourceTemplateSpec:
    t = entry.obj
    return ResourceTemplateSpec(
        uri_template=t.uri_template,
        name=t.name,
        description=t.description,
        mime_type=t.mime_type or None,
        title=t.title or None,
    )


def _prompt_spec(entry: selectors.Exposed) -> PromptSpec:
    p = entry.obj
    return PromptSpec(
        name=entry.name,
        description=p.description,
        arguments=tuple(
            PromptArgumentSpec(name=a["name"], description=a.get("description", ""), required=bool(a.get("required")))
            for a in p.arguments
        ),
        title=p.title or p.display_name or None,
    )


def _memoised(kind: str, read):
    """``read(context, arg)`` run in a thread on a miss, else this worker's memoised answer.

    Answers are immutable specs (tuples of them for lists), so sharing them between calls is safe.
    """
    read_async = sync_to_async(read)

    async def run(context: CallerContext, arg: str | None):
        current = hotcache.stamp()
        key = (kind, hotcache.principal_key(context), arg)
        answer = hotcache.get(current, key)
        if answer is hotcache.MISSING:
            answer = await read_async(context, arg)
            hotcache.put(current, key, answer)
        return answer

    return run


def _listing(kind: str, selector, to_spec):
    def run(context: CallerContext, server_id: str | None):
        try:
            return tuple(to_spec(entry) for entry in selector(context, server_id))
        except NotFound as exc:
            raise CatalogError("not_found", exc.errors["detail"]) from exc

    memoised = _memoised(kind, run)

    async def listing(context: CallerContext, server_id: str | None) -> list:
        return list(await memoised(context, server_id))

    return listing


_list_tools = _listing("tools", selectors.exposed_tools, _tool_spec)
_list_resources = _listing("resources", selectors.exposed_resources, _resource_spec)
_list_templates = _listing("templates", selectors.exposed_resource_templates, _template_spec)
_list_prompts = _listing("prompts", selectors.exposed_prompts, _prompt_spec)


def _read_server(context: CallerContext, server_id: str) -> ServerSpec:
    try:
        server = selectors.get_server(context, server_id)
    except NotFound as exc:
        raise CatalogError("not_found", exc.errors["detail"]) from exc
    return ServerSpec(id=str(server.pk), name=server.name, description=server.description, icon=server.icon or None)


_server = _memoised("server", _read_server)


class EmbeddedCatalogService:
    """CatalogService over the core's selectors and invoke service."""

    async def get_server(self, context: CallerContext, server_id: str) -> ServerSpec:
        """A virtual server the caller may see (not_found otherwise)."""
        return await _server(context, server_id)

    async def list_tools(self, context: CallerContext, server_id: str | None = None) -> list[ToolSpec]:
        """Tools of one server under exposed names, or every visible tool under namespaced names."""
        return await _list_tools(context, server_id)

    async def call_tool(
        self,
        context: CallerContext,
        name: str,
        arguments: dict[str, Any],
        *,
        server_id: str | None,
        options: CallOptions,
    ) -> ToolResult:
        """Resolve, run plugins, dispatch to the owning runtime, record metrics."""
        return await invoke.call_tool(context, name, arguments, server_id=server_id, options=options)

    async def list_resources(self, context: CallerContext, server_id: str | None = None) -> list[ResourceSpec]:
        """Readable resources, by URI."""
        return await _list_resources(context, server_id)

    async def list_resource_templates(
        self, context: CallerContext, server_id: str | None = None
    ) -> list[ResourceTemplateSpec]:
        """Resource templates, by URI template."""
        return await _list_templates(context, server_id)

    async def read_resource(
        self, context: CallerContext, uri: str, *, server_id: str | None, options: CallOptions
    ) -> list[ResourceContents]:
        """A resource's contents."""
        return await invoke.read_resource(context, uri, server_id=server_id, options=options)

    async def list_prompts(self, context: CallerContext, server_id: str | None = None) -> list[PromptSpec]:
        """Prompts, by exposed name."""
        return await _list_prompts(context, server_id)

    async def get_prompt(
        self,
        context: CallerContext,
        name: str,
        arguments: dict[str, str],
        *,
        server_id: str | None,
        options: CallOptions,
    ) -> PromptResult:
        """A rendered prompt."""
        return await invoke.get_prompt(context, name, arguments, server_id=server_id, options=options)

    async def complete(
        self, context: CallerContext, ref: dict[str, Any], argument: dict[str, Any], *, server_id: str | None
    ) -> dict[str, Any]:
        """Argument completion: {"values": [...], "total": n, "hasMore": bool} (not_found for unknown refs)."""
        return await invoke.complete(context, ref, argument, server_id=server_id)
