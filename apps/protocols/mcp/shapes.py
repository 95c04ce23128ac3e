"""SPI values → MCP wire objects, shaped for the revision in use.

Each revision's schema defines which members an object may carry (``title`` and
``outputSchema`` arrive in 2025-06-18, ``icons`` in 2025-11-25, ...); members a revision
does not know are left out, so every emitted object validates against that revision.
"""

from __future__ import annotations

from typing import Any

from apps.protocols.spi import (
    PromptResult,
    PromptSpec,
    ResourceContents,
    ResourceSpec,
    ResourceTemplateSpec,
    ToolResult,
    ToolSpec,
)

__all__ = [
    "content_block",
    "prompt",
    "prompt_result",
    "resource",
    "resource_contents",
    "resource_template",
    "tool",
    "tool_result",
]

_ORDER = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28")


def since(revision: str, first: str) -> bool:
    """True when ``revision`` is ``first`` or newer."""
    return _ORDER.index(revision) >= _ORDER.index(first)


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != "":
        target[key] = value


def tool(spec: ToolSpec, revision: str) -> dict[str, Any]:
    """A ``Tool`` object."""
    out: dict[str, Any] = {"name": spec.name}
    _put(out, "description", spec.description)
    out["inputSchema"] = spec.input_schema if isinstance(spec.input_schema, dict) else {"type": "object"}
    if since(revision, "2025-03-26") and spec.annotations:
        out["annotations"] = spec.annotations
    if since(revision, "2025-06-18"):
        _put(out, "title", spec.title)
        _put(out, "outputSchema", spec.output_schema)
        _put(out, "_meta", spec.meta)
    return out


def resource(spec: ResourceSpec, revision: str) -> dict[str, Any]:
    """A ``Resource`` object."""
    out: dict[str, Any] = {"uri": spec.uri, "name": spec.name}
    _put(out, "description", spec.description)
    _put(out, "mimeType", spec.mime_type)
    _put(out, "size", spec.size)
    _put(out, "annotations", spec.annotations)
    if since(revision, "2025-06-18"):
        _put(out, "title", spec.title)
    return out


def resource_template(spec: ResourceTemplateSpec, revision: str) -> dict[str, Any]:
    """A ``ResourceTemplate`` object."""
    out: dict[str, Any] = {"uriTemplate": spec.uri_template, "name": spec.name}
    _put(out, "description", spec.description)
    _put(out, "mimeType", spec.mime_type)
    if since(revision, "2025-06-18"):
        _put(out, "title", spec.title)
    return out


def prompt(spec: PromptSpec, revision: str) -> dict[str, Any]:
    """A ``Prompt`` object."""
    out: dict[str, Any] = {"name": spec.name}
    _put(out, "description", spec.description)
    if spec.arguments:
        args = []
        for arg in spec.arguments:
            item: dict[str, Any] = {"name": arg.name, "required": arg.required}
            _put(item, "description", arg.description)
            args.append(item)
        out["arguments"] = args
    if since(revision, "2025-06-18"):
        _put(out, "title", spec.title)
    return out


def content_block(block: dict[str, Any], revision: str) -> dict[str, Any]:
    """One content block, degraded to what the revision can carry.

    Audio arrives in 2025-03-26 and resource links in 2025-06-18; older revisions get
    a text block describing them instead, so nothing is silently lost.
    """
    kind = block.get("type")
    if kind == "audio" and not since(revision, "2025-03-26"):
        return {"type": "text", "text": f"[audio content: {block.get('mimeType', 'unknown type')}]"}
    if kind == "resource_link" and not since(revision, "2025-06-18"):
        return {"type": "text", "text": f"[resource: {block.get('uri', '')}]"}
    if not since(revision, "2025-06-18") and "_meta" in block:
        block = {k: v for k, v in block.items() if k != "_meta"}
    return block


def tool_result(result: ToolResult, revision: str) -> dict[str, Any]:
    """A ``CallToolResult`` (without the modern ``resultType``, added by the dispatcher)."""
    out: dict[str, Any] = {"content": [content_block(b, revision) for b in result.content]}
    if result.is_error:
        out["isError"] = True
    if since(revision, "2025-06-18") and result.structured_content is not None:
        out["structuredContent"] = result.structured_content
    _put(out, "_meta", result.meta)
    return out


def resource_contents(item: ResourceContents) -> dict[str, Any]:
    """A ``TextResourceContents`` or ``BlobResourceContents``."""
    out: dict[str, Any] = {"uri": item.uri}
    _put(out, "mimeType", item.mime_type)
    if item.blob is not None:
        out["blob"] = item.blob
    else:
        out["text"] = item.text or ""
    return out


def prompt_result(result: PromptResult, revision: str) -> dict[str, Any]:
    """A ``GetPromptResult``."""
    messages = []
    for message in result.messages:
        content = message.get("content")
        if isinstance(content, dict):
            message = {**message, "content": content_block(content, revision)}
        messages.append(message)
    out: dict[str, Any] = {"messages": messages}
    _put(out, "description", result.description)
    return out
