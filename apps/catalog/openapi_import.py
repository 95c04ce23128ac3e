"""Turning an OpenAPI 3 document into REST tool definitions with JSON Schema inputs.

Each operation becomes one tool: path, query and header parameters and the JSON
request body's properties become the input schema; the JSON response of the first
2xx status becomes the output schema. Local ``$ref``s are inlined (cycles cut to ``{}``).
Documents come from a URL (SSRF-guarded, size-limited) or from the caller.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import yaml
from django.conf import settings

from .errors import InvalidInput, TooLarge
from .ssrf import UnsafeURL, check_url

__all__ = ["fetch_spec", "parse_spec", "tools_from_spec"]

METHODS = ("get", "post", "put", "patch", "delete")
MAX_SPEC_BYTES = 5 * 1024 * 1024
_IDENT = re.compile(r"[^A-Za-z0-9_]")


def parse_spec(raw: bytes | str, field: str = "spec") -> dict[str, Any]:
    """Parse a JSON or YAML OpenAPI document and check it is OpenAPI 3."""
    if len(raw) > MAX_SPEC_BYTES:
        raise TooLarge(f"OpenAPI document is larger than {MAX_SPEC_BYTES} bytes", field)
    try:
        spec = json.loads(raw)
    except ValueError:
        try:
            spec = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"is neither JSON nor YAML: {exc}", field) from exc
    return check_spec(spec, field)


def check_spec(spec: Any, field: str = "spec") -> dict[str, Any]:
    """An OpenAPI 3.x document with paths, else InvalidInput."""
    if not isinstance(spec, dict) or not str(spec.get("openapi", "")).startswith("3."):
        raise InvalidInput("is not an OpenAPI 3 document (no 'openapi: 3.x')", field)
    if not isinstance(spec.get("paths"), dict):
        raise InvalidInput("has no paths", field)
    return spec


def fetch_spec(url: str, field: str = "openapi_url") -> dict[str, Any]:
    """Download an OpenAPI document (http/https, SSRF guard, no redirects, size and time limits)."""
    try:
        check_url(url)
    except UnsafeURL as exc:
        raise InvalidInput(str(exc), field) from exc
    try:
        with (
            httpx.Client(timeout=10, follow_redirects=False, trust_env=False) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise InvalidInput(f"answered HTTP {response.status_code}", field)
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_SPEC_BYTES:
                    raise TooLarge(f"OpenAPI document is larger than {MAX_SPEC_BYTES} bytes", field)
    except httpx.HTTPError as exc:
        raise InvalidInput(f"could not be fetched: {type(exc).__name__}", field) from exc
    return parse_spec(body, field)


def _resolve(node: Any, spec: dict[str, Any], seen: tuple[str, ...] = (), depth: int = 0) -> Any:
    if depth > 32:
        return {}
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith("#/") or ref in seen:
                return {}
            target: Any = spec
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part) if isinstance(target, dict) else None
            return _resolve(target or {}, spec, (*seen, ref), depth + 1)
        return {k: _resolve(v, spec, seen, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, spec, seen, depth + 1) for v in node]
    return node


def _tool_name(operation: dict[str, Any], method: str, path: str) -> str:
    raw = operation.get("operationId") or f"{method}_{path}"
    name = re.sub(r"_+", "_", _IDENT.sub("_", str(raw))).strip("_")
    return (name or method)[:128]


def _json_schema(content: Any, spec: dict[str, Any]) -> dict[str, Any] | None:
    if not isinstance(content, dict):
        return None
    for media, body in content.items():
        if "json" in media and isinstance(body, dict) and isinstance(body.get("schema"), dict):
            return _resolve(body["schema"], spec)
    return None


def _base_url(spec: dict[str, Any], source_url: str | None, base_url: str | None) -> str:
    if base_url:
        return base_url.rstrip("/")
    servers = spec.get("servers") or []
    server_url = servers[0].get("url", "") if servers and isinstance(servers[0], dict) else ""
    if source_url:
        return urljoin(source_url, server_url or "/").rstrip("/")
    if urlsplit(server_url).scheme in ("http", "https"):
        return server_url.rstrip("/")
    raise InvalidInput("the document has no absolute server URL; give base_url", "base_url")


def tools_from_spec(spec: dict[str, Any], *, source_url: str | None = None, base_url: str | None = None) -> list[dict]:
    """Tool definitions (the create body of /v1/tools) for every operation of the document."""
    base = _base_url(spec, source_url, base_url)
    tools: list[dict[str, Any]] = []
    for path, item in spec["paths"].items():
        if not isinstance(item, dict):
            continue
        shared = item.get("parameters", [])
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            properties: dict[str, Any] = {}
            required: list[str] = []
            query_mapping, header_mapping = {}, {}
            url_path = path
            for param in _resolve([*shared, *operation.get("parameters", [])], spec):
                if not isinstance(param, dict) or not isinstance(param.get("name"), str):
                    continue
                name, where = param["name"], param.get("in")
                arg = _IDENT.sub("_", name)
                schema = dict(param.get("schema") or {"type": "string"})
                if param.get("description"):
                    schema.setdefault("description", param["description"])
                properties[arg] = schema
                if param.get("required") or where == "path":
                    required.append(arg)
                if where == "path":
                    url_path = url_path.replace("{" + name + "}", "{" + arg + "}")
                elif where == "query":
                    query_mapping[arg] = name
                elif where == "header":
                    header_mapping[arg] = name
            body_schema = _json_schema((operation.get("requestBody") or {}).get("content"), spec)
            if body_schema is not None:
                if body_schema.get("type", "object") == "object" and isinstance(body_schema.get("properties"), dict):
                    properties.update(body_schema["properties"])
                    required.extend(r for r in body_schema.get("required", []) if r not in required)
                else:
                    properties["body"] = body_schema
                    required.append("body")
            output = None
            for status, response in sorted((operation.get("responses") or {}).items()):
                if str(status).startswith("2") and isinstance(response, dict):
                    output = _json_schema(response.get("content"), spec)
                    if output is not None:
                        break
            input_schema: dict[str, Any] = {"type": "object", "properties": properties}
            if required:
                input_schema["required"] = sorted(set(required), key=required.index)
            tools.append(
                {
                    "name": _tool_name(operation, method, path),
                    "description": (operation.get("summary") or operation.get("description") or "")[:4096],
                    "url": base + url_path,
                    "request_type": method.upper(),
                    "integration_type": "REST",
                    "inputSchema": input_schema,
                    "outputSchema": output if isinstance(output, dict) and output.get("type") == "object" else None,
                    "query_mapping": query_mapping,
                    "header_mapping": header_mapping,
                }
            )
    if len(tools) > settings.OPENAPI_IMPORT_MAX_TOOLS:
        raise InvalidInput(f"has more than {settings.OPENAPI_IMPORT_MAX_TOOLS} operations", "spec")
    return tools
