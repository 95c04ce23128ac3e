"""The REST adapter: runs a REST-backed tool as an HTTP request with httpx.

Arguments fill the URL template's ``{placeholders}``, then the header, query and body
mappings; what is left goes to the query string (GET, DELETE) or the JSON body (POST,
PUT, PATCH). The response is size-limited, optionally narrowed with a JSONPath filter,
and returned as MCP content (text, plus structured content for JSON objects).
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings
from jsonpath_ng.ext import parse as jsonpath_parse

from apps.protocols.spi import CatalogError, ToolResult

from .ssrf import UnsafeURL, check_url

__all__ = ["RestCall", "call_rest"]

_PLACEHOLDER = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)}")


@dataclass(frozen=True)
class RestCall:
    """Everything needed to run one REST tool, with credentials already turned into headers."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    auth_headers: dict[str, str] = field(default_factory=dict)
    auth_query: dict[str, str] = field(default_factory=dict)
    query_mapping: dict[str, str] = field(default_factory=dict)
    header_mapping: dict[str, str] = field(default_factory=dict)
    body_mapping: dict[str, str] = field(default_factory=dict)
    jsonpath_filter: str = ""
    timeout_ms: int | None = None


def _as_param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def build_request(call: RestCall, arguments: dict[str, Any]) -> httpx.Request:
    """Map arguments onto an httpx request (pure, so it can be tested without a network)."""
    remaining = dict(arguments)
    names = [n for _, n, _, _ in string.Formatter().parse(call.url) if n]
    missing = [n for n in names if n not in remaining]
    if missing:
        raise CatalogError("invalid_arguments", f"missing argument(s) for the URL: {', '.join(missing)}")
    url = _PLACEHOLDER.sub(lambda m: quote(_as_param(remaining.pop(m.group(1))), safe=""), call.url)
    headers = {**call.headers}
    for arg, header in call.header_mapping.items():
        if arg in remaining:
            value = _as_param(remaining.pop(arg))
            if "\n" in value or "\r" in value:
                raise CatalogError("invalid_arguments", f"argument {arg!r} cannot be sent as a header")
            headers[header] = value
    headers.update(call.auth_headers)
    params = {query: _as_param(remaining.pop(arg)) for arg, query in call.query_mapping.items() if arg in remaining}
    body: dict[str, Any] | None = None
    mapped_body = {target: remaining.pop(arg) for arg, target in call.body_mapping.items() if arg in remaining}
    if call.method in ("GET", "DELETE"):
        params.update({k: _as_param(v) for k, v in remaining.items()})
        body = mapped_body or None
    else:
        body = {**remaining, **mapped_body}
    params.update(call.auth_query)
    return httpx.Request(call.method, url, params=params or None, headers=headers, json=body)


def _filter(data: Any, expression: str) -> Any:
    if not expression:
        return data
    matches = [m.value for m in jsonpath_parse(expression).find(data)]
    return matches[0] if len(matches) == 1 else matches


async def call_rest(call: RestCall, arguments: dict[str, Any], *, seconds: float | None = None) -> ToolResult:
    """Run the request. HTTP errors are tool errors (is_error); network failures are CatalogErrors."""
    request = build_request(call, arguments)
    try:
        check_url(str(request.url))
    except UnsafeURL as exc:
        raise CatalogError("unavailable", f"tool URL refused: {exc}") from exc
    seconds = seconds or (call.timeout_ms or settings.REST_TOOL_TIMEOUT_MS) / 1000
    limit = settings.REST_TOOL_MAX_RESPONSE_BYTES
    try:
        async with httpx.AsyncClient(timeout=seconds, follow_redirects=False, trust_env=False) as client:
            response = await client.send(request, stream=True)
            try:
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise CatalogError("unavailable", f"tool response is larger than {limit} bytes")
                    chunks.append(chunk)
            finally:
                await response.aclose()
    except httpx.TimeoutException as exc:
        raise CatalogError("timeout", f"tool endpoint did not answer within {seconds:g}s") from exc
    except httpx.HTTPError as exc:
        raise CatalogError("unavailable", f"tool endpoint unreachable: {type(exc).__name__}") from exc
    raw = b"".join(chunks)
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    if response.status_code >= 400:
        return ToolResult(
            content=[{"type": "text", "text": f"HTTP {response.status_code}: {text[:4000]}"}], is_error=True
        )
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
        if call.jsonpath_filter:
            return ToolResult(
                content=[{"type": "text", "text": "response is not JSON; filter not applied"}], is_error=True
            )
    if data is None:
        return ToolResult(content=[{"type": "text", "text": text}])
    try:
        data = _filter(data, call.jsonpath_filter)
    except Exception as exc:
        return ToolResult(content=[{"type": "text", "text": f"JSONPath filter failed: {exc}"}], is_error=True)
    structured = data if isinstance(data, dict) else None
    return ToolResult(
        content=[{"type": "text", "text": json.dumps(data, ensure_ascii=False)}], structured_content=structured
    )
