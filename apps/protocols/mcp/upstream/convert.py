"""SDK result models → the SPI's plain values (and back for references)."""

from __future__ import annotations

from typing import Any

import mcp_types as types

from apps.protocols.spi import (
    PromptArgumentSpec,
    PromptResult,
    PromptSpec,
    ResourceContents,
    ResourceSpec,
    ResourceTemplateSpec,
    ToolResult,
    ToolSpec,
)

__all__ = ["dump", "prompt", "prompt_result", "reference", "resource", "template", "tool", "tool_result"]


def dump(model: Any) -> dict[str, Any]:
    """A model as wire JSON (camelCase, no nulls)."""
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


def tool(t: types.Tool) -> ToolSpec:
    """A listed upstream tool, under its original name."""
    data = dump(t)
    return ToolSpec(
        id=t.name,
        name=t.name,
        description=t.description or "",
        input_schema=data.get("inputSchema") or {"type": "object"},
        output_schema=data.get("outputSchema"),
        title=t.title,
        annotations=data.get("annotations"),
        meta=data.get("_meta"),
    )


def resource(r: types.Resource) -> ResourceSpec:
    """A listed upstream resource."""
    data = dump(r)
    return ResourceSpec(
        uri=str(r.uri),
        name=r.name,
        description=r.description or "",
        mime_type=r.mime_type,
        size=r.size,
        title=r.title,
        annotations=data.get("annotations"),
    )


def template(t: types.ResourceTemplate) -> ResourceTemplateSpec:
    """A listed upstream resource template."""
    return ResourceTemplateSpec(
        uri_template=t.uri_template, name=t.name, description=t.description or "", mime_type=t.mime_type, title=t.title
    )


def prompt(p: types.Prompt) -> PromptSpec:
    """A listed upstream prompt."""
    return PromptSpec(
        name=p.name,
        description=p.description or "",
        arguments=tuple(
            PromptArgumentSpec(name=a.name, description=a.description or "", required=bool(a.required))
            for a in (p.arguments or [])
        ),
        title=p.title,
    )


def tool_result(r: types.CallToolResult) -> ToolResult:
    """A tool call's result."""
    data = dump(r)
    return ToolResult(
        content=data.get("content", []),
        structured_content=data.get("structuredContent"),
        is_error=bool(r.is_error),
        meta=data.get("_meta"),
    )


def resource_contents(r: types.ReadResourceResult) -> list[ResourceContents]:
    """A resource read's contents."""
    out = []
    for item in dump(r).get("contents", []):
        out.append(
            ResourceContents(
                uri=item.get("uri", ""), mime_type=item.get("mimeType"), text=item.get("text"), blob=item.get("blob")
            )
        )
    return out


def prompt_result(r: types.GetPromptResult) -> PromptResult:
    """A rendered prompt."""
    data = dump(r)
    return PromptResult(messages=data.get("messages", []), description=r.description)


def reference(ref: dict[str, Any]) -> types.PromptReference | types.ResourceTemplateReference:
    """A completion reference from its wire form (ValueError naming the field when malformed)."""
    kind = ref.get("type")
    if kind == "ref/prompt":
        return types.PromptReference.model_validate(ref)
    if kind in ("ref/resource", "ref/resourceTemplate"):
        return types.ResourceTemplateReference.model_validate({**ref, "type": "ref/resource"})
    raise ValueError(f"ref.type: {kind!r} is not ref/prompt or ref/resource")
