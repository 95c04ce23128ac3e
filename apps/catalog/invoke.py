"""The core invoke service: one path for tool calls, resource reads and prompt renders.

resolve under the caller's visibility (and token scope) → validate arguments → plugin
pre-hook → dispatch to the owning runtime (REST adapter here; MCP/A2A runtimes from
``runtimes``; an upstream gateway's target carries the caller's allowed headers, see
``passthrough``) → plugin post-hook → metrics → plain SPI result. Failures are
``CatalogError``s with the SPI codes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import jsonschema
import orjson
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache

from apps.accounts.principal import Principal
from apps.plugins.base import PluginViolation
from apps.plugins.registry import registry as plugins
from apps.protocols.spi import CallOptions, CatalogError, PromptResult, ResourceContents, ToolResult, UpstreamTarget
from apps.teams.permissions import has_permission

from . import hotcache, metrics, passthrough, runtimes, selectors
from .crypto import DecryptionError
from .errors import InvalidInput, NotFound
from .models import IntegrationType, InvocationMetric, Prompt, Resource
from .prompting import check_prompt_arguments, render_template
from .rest_adapter import RestCall, call_rest
from .services import auth_headers, resource_cache_key, tool_credentials, upstream_target

__all__ = ["call_tool", "complete", "get_prompt", "read_resource", "schema_validator", "validate_arguments"]


# --- Shared steps ---------------------------------------------------------------------


@lru_cache(maxsize=2048)
def _validator(schema_json: str):
    schema = json.loads(schema_json)
    return jsonschema.validators.validator_for(schema)(schema)


def schema_validator(schema: dict[str, Any] | None):
    """The compiled JSON Schema validator of a tool's input schema (one per distinct schema)."""
    return _validator(json.dumps(schema or {"type": "object"}, sort_keys=True))


def validate_arguments(schema: dict[str, Any], arguments: Any, validator: Any = None) -> None:
    """Raise CatalogError invalid_arguments with the JSON Schema message when arguments do not fit.

    ``validator``: the schema's compiled validator when the caller holds it already.
    """
    if not isinstance(arguments, dict):
        raise CatalogError("invalid_arguments", "arguments must be an object")
    validator = validator or schema_validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        raise CatalogError(
            "invalid_arguments",
            f"{error.message}" + (f" (at {where})" if where else ""),
            {"path": list(error.absolute_path), "validator": error.validator},
        )


async def _hook(hook: str, principal: Principal, payload: dict[str, Any]) -> dict[str, Any]:
    try:
        return await plugins.run(hook, principal, payload)
    except PluginViolation as exc:
        raise CatalogError("forbidden", exc.message, {"plugin": exc.plugin, "violation": exc.code}) from exc


async def _within(awaitable, seconds: float | None, what: str):
    if not seconds:
        return await awaitable
    try:
        async with asyncio.timeout(seconds):  # no extra task, unlike wait_for
            return await awaitable
    except TimeoutError as exc:
        raise CatalogError("timeout", f"{what} did not finish within {seconds:g}s") from exc


def _catalog_error(exc: Exception) -> CatalogError:
    if isinstance(exc, CatalogError):
        return exc
    if isinstance(exc, NotFound):
        return CatalogError("not_found", str(exc.errors.get("detail", exc)))
    if isinstance(exc, InvalidInput):
        return CatalogError("invalid_arguments", "; ".join(exc.errors.values()), {"fields": exc.errors})
    if isinstance(exc, DecryptionError):
        return CatalogError("internal", str(exc))
    return CatalogError("internal", f"{type(exc).__name__}: {exc}")


def _runtime(integration_type: str, method: str):
    runtime = runtimes.get_runtime(integration_type)
    if runtime is None or not callable(getattr(runtime, method, None)):
        raise CatalogError("unavailable", f"no {integration_type} runtime is available in this process")
    return getattr(runtime, method)


class _Metric:
    """Times one invocation and records it when done."""

    def __init__(self, kind: str, principal: Principal, server_id: str | None) -> None:
        self.kind, self.principal, self.server_id = kind, principal, server_id or ""
        self.entity_id, self.entity_name = "", ""
        self.started = time.perf_counter()
        self.bytes_in = self.bytes_out = 0

    def done(self, error: CatalogError | None, is_error: bool = False) -> None:
        if not self.entity_id:
            return  # never resolved: nothing to attribute the call to
        metrics.record(
            kind=self.kind,
            entity_id=self.entity_id,
            entity_name=self.entity_name,
            server_id=self.server_id,
            user_id=self.principal.user_id,
            token_id=self.principal.token_id or "",
            latency_ms=(time.perf_counter() - self.started) * 1000,
            success=error is None and not is_error,
            error_code=error.code if error else ("tool_error" if is_error else ""),
            bytes_in=self.bytes_in,
            bytes_out=self.bytes_out,
        )


# --- Tools ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _ToolPlan:
    tool_id: str
    name: str
    original_name: str
    input_schema: dict[str, Any]
    integration_type: str
    rest: RestCall | None
    target: UpstreamTarget | None
    timeout: float | None
    validator: Any = None
    passthrough: passthrough.Policy | None = None


def _plan_tool(principal: Principal, name: str, server_id: str | None) -> _ToolPlan:
    tool = selectors.resolve_tool(principal, name, server_id)
    may_run = has_permission(principal, "tools.execute", obj=tool) or (
        tool.visibility == "public" and has_permission(principal, "tools.execute")
    )
    if not may_run:
        raise CatalogError("forbidden", f"you may not execute tool {name!r}")
    rest = target = policy = None
    timeout = tool.timeout_ms / 1000 if tool.timeout_ms else None
    if tool.integration_type == IntegrationType.REST:
        headers, query = auth_headers(tool.auth_type, tool_credentials(tool))
        rest = RestCall(
            method=tool.request_type,
            url=tool.url,
            headers=dict(tool.headers),
            auth_headers=headers,
            auth_query=query,
            query_mapping=dict(tool.query_mapping),
            header_mapping=dict(tool.header_mapping),
            body_mapping=dict(tool.body_mapping),
            jsonpath_filter=tool.jsonpath_filter,
            timeout_ms=tool.timeout_ms,
        )
    elif tool.gateway is None:
        if tool.integration_type != IntegrationType.A2A or not tool.url:
            raise CatalogError("unavailable", f"tool {name!r} has no upstream")
        # An A2A agent exposed as a tool: the agent endpoint and credentials live on the tool.
        headers, query = auth_headers(tool.auth_type, tool_credentials(tool))
        target = UpstreamTarget(
            gateway_id=f"tool:{tool.pk}",
            name=tool.name,
            transport="A2A",
            url=tool.url,
            headers={**tool.headers, **headers},
            query_params=query,
            timeout=timeout,
        )
    else:
        if not tool.gateway.enabled:
            raise NotFound(f"tool {name!r} not found")
        if not tool.gateway.reachable:
            reason = f": {tool.gateway.last_error[:300]}" if tool.gateway.last_error else ""
            raise CatalogError(
                "unavailable",
                f"upstream {tool.gateway.name} is unreachable{reason}",
                {"upstream": tool.gateway.name, "gateway_id": str(tool.gateway.pk)},
            )
        target = upstream_target(tool.gateway)
        policy = passthrough.policy_for(tool.gateway)
        timeout = timeout or tool.gateway.timeout_seconds
    return _ToolPlan(
        str(tool.pk),
        name,
        tool.original_name,
        tool.input_schema,
        tool.integration_type,
        rest,
        target,
        timeout,
        schema_validator(tool.input_schema),
        policy,
    )


async def _resolve_plan(principal: Principal, name: str, server_id: str | None) -> _ToolPlan:
    """The call plan, from this worker's memo when no write has happened since it was made."""
    current = hotcache.stamp()
    key = ("tool", hotcache.principal_key(principal), server_id, name)
    plan = hotcache.get(current, key)
    if plan is hotcache.MISSING:
        plan = await sync_to_async(_plan_tool)(principal, name, server_id)
        hotcache.put(current, key, plan)
    return plan


async def call_tool(
    principal: Principal,
    name: str,
    arguments: dict[str, Any] | None,
    *,
    server_id: str | None = None,
    options: CallOptions | None = None,
) -> ToolResult:
    """Call a tool by the name the caller sees; the one path every protocol uses."""
    options = options or CallOptions()
    metric = _Metric(InvocationMetric.Kind.TOOL, principal, server_id)
    error: CatalogError | None = None
    result: ToolResult | None = None
    try:
        plan = await _resolve_plan(principal, name, server_id)
        metric.entity_id, metric.entity_name = plan.tool_id, name
        arguments = {} if arguments is None else arguments
        validate_arguments(plan.input_schema, arguments, plan.validator)
        if plugins.chain("tool_pre_invoke"):
            payload = await _hook(
                "tool_pre_invoke",
                principal,
                {"name": name, "tool_id": plan.tool_id, "server_id": server_id, "arguments": arguments},
            )
            arguments = payload.get("arguments", arguments)
        metric.bytes_in = len(orjson.dumps(arguments, default=str, option=orjson.OPT_NON_STR_KEYS))
        timeout = options.timeout or plan.timeout
        if plan.rest is not None:
            result = await call_rest(plan.rest, arguments, seconds=timeout)
        else:
            runner = _runtime(plan.integration_type, "call_tool")
            target = passthrough.forward(plan.target, plan.passthrough, options.headers)
            result = await _within(runner(target, plan.original_name, arguments, options), timeout, "tool")
        if plugins.chain("tool_post_invoke"):
            post = await _hook(
                "tool_post_invoke",
                principal,
                {"name": name, "tool_id": plan.tool_id, "server_id": server_id, "result": asdict(result)},
            )
            if post.get("result") is not None and post["result"] != asdict(result):
                result = ToolResult(**post["result"])
        metric.bytes_out = len(orjson.dumps(result.content, default=str, option=orjson.OPT_NON_STR_KEYS))
        return result
    except Exception as exc:
        error = _catalog_error(exc)
        if error is exc:
            raise
        raise error from exc
    finally:
        metric.done(error, is_error=bool(result and result.is_error))


# --- Resources ------------------------------------------------------------------------


def _plan_resource(principal: Principal, uri: str, server_id: str | None, resource_id: str | None = None):
    if resource_id is not None:
        resource = selectors.visible(Resource, principal).filter(pk=resource_id, enabled=True).first()
        if resource is None:
            raise NotFound(f"resource {resource_id} not found")
    else:
        try:
            resource = selectors.resolve_resource(principal, uri, server_id)
        except NotFound:
            # A URI of a federated template's family: read from that template's upstream.
            template = selectors.resolve_federated_template(principal, uri, server_id)
            if not template.gateway.enabled:
                raise
            return str(template.pk), upstream_target(template.gateway), False, passthrough.policy_for(template.gateway)
    if resource.gateway_id is None:
        if resource.binary_content is not None:
            blob = base64.b64encode(bytes(resource.binary_content)).decode()
            contents = [ResourceContents(uri=resource.uri, mime_type=resource.mime_type or None, blob=blob)]
        else:
            contents = [
                ResourceContents(
                    uri=resource.uri, mime_type=resource.mime_type or None, text=resource.text_content or ""
                )
            ]
        return str(resource.pk), contents, False, None
    if not resource.gateway.enabled:
        raise NotFound(f"resource {uri!r} not found")
    return str(resource.pk), upstream_target(resource.gateway), True, passthrough.policy_for(resource.gateway)


async def read_resource(
    principal: Principal,
    uri: str,
    *,
    server_id: str | None = None,
    options: CallOptions | None = None,
    resource_id: str | None = None,
) -> list[ResourceContents]:
    """Read a resource (by URI, or by id): local content, or the upstream's through its runtime
    (cached for RESOURCE_CACHE_TTL)."""
    options = options or CallOptions()
    metric = _Metric(InvocationMetric.Kind.RESOURCE, principal, server_id)
    error: CatalogError | None = None
    try:
        payload = await _hook("resource_pre_fetch", principal, {"uri": uri, "server_id": server_id})
        uri = payload.get("uri", uri)
        # cacheable: a concrete federated resource (a template's reads are keyed by URI, never cached)
        resource_id, plan, cacheable, policy = await sync_to_async(_plan_resource)(
            principal, uri, server_id, resource_id
        )
        metric.entity_id, metric.entity_name = resource_id, uri
        if isinstance(plan, UpstreamTarget):
            target = passthrough.forward(plan, policy, options.headers)
            # What an upstream answers may depend on forwarded headers: such reads bypass the shared cache.
            cacheable = cacheable and target is plan
            key = resource_cache_key(resource_id)
            cached = await cache.aget(key) if settings.RESOURCE_CACHE_TTL and cacheable else None
            if cached is not None:
                contents = [ResourceContents(**item) for item in cached]
            else:
                reader = _runtime("MCP", "read_resource")
                contents = list(
                    await _within(reader(target, uri, options), options.timeout or plan.timeout, "resource read")
                )
                size = sum(len(c.text or "") + len(c.blob or "") for c in contents)
                if size > settings.RESOURCE_MAX_BYTES * 4 // 3:
                    raise CatalogError("unavailable", f"resource is larger than {settings.RESOURCE_MAX_BYTES} bytes")
                if settings.RESOURCE_CACHE_TTL and cacheable:
                    await cache.aset(key, [asdict(c) for c in contents], settings.RESOURCE_CACHE_TTL)
        else:
            contents = plan
        post = await _hook(
            "resource_post_fetch",
            principal,
            {"uri": uri, "server_id": server_id, "contents": [asdict(c) for c in contents]},
        )
        contents = [ResourceContents(**item) for item in post.get("contents", [])]
        metric.bytes_out = sum(len(c.text or "") + len(c.blob or "") for c in contents)
        return contents
    except Exception as exc:
        error = _catalog_error(exc)
        if error is exc:
            raise
        raise error from exc
    finally:
        metric.done(error)


# --- Prompts --------------------------------------------------------------------------


def _plan_prompt(principal: Principal, name: str, server_id: str | None, prompt_id: str | None = None):
    if prompt_id is not None:
        prompt = (
            selectors.visible(Prompt, principal).filter(pk=prompt_id, enabled=True).select_related("gateway").first()
        )
        if prompt is None:
            raise NotFound(f"prompt {prompt_id} not found")
    else:
        prompt = selectors.resolve_prompt(principal, name, server_id)
    target = policy = None
    if prompt.gateway_id is not None:
        if not prompt.gateway.enabled:
            raise NotFound(f"prompt {name!r} not found")
        target = upstream_target(prompt.gateway)
        policy = passthrough.policy_for(prompt.gateway)
    return prompt, target, policy


async def get_prompt(
    principal: Principal,
    name: str,
    arguments: dict[str, str] | None,
    *,
    server_id: str | None = None,
    options: CallOptions | None = None,
    prompt_id: str | None = None,
) -> PromptResult:
    """Render a prompt (by exposed name, or by id): sandboxed Jinja2 locally, or the upstream's runtime."""
    options = options or CallOptions()
    metric = _Metric(InvocationMetric.Kind.PROMPT, principal, server_id)
    error: CatalogError | None = None
    try:
        prompt, target, policy = await sync_to_async(_plan_prompt)(principal, name, server_id, prompt_id)
        name = name or prompt.name
        metric.entity_id, metric.entity_name = str(prompt.pk), name
        arguments = check_prompt_arguments(prompt.arguments, arguments)
        payload = await _hook(
            "prompt_pre_fetch", principal, {"name": name, "server_id": server_id, "arguments": arguments}
        )
        arguments = payload.get("arguments", arguments)
        if target is None:
            text = render_template(prompt.template, prompt.arguments, arguments)
            result = PromptResult(
                messages=[{"role": "user", "content": {"type": "text", "text": text}}],
                description=prompt.description or None,
            )
        else:
            getter = _runtime("MCP", "get_prompt")
            target = passthrough.forward(target, policy, options.headers)
            result = await _within(getter(target, prompt.original_name, arguments, options), options.timeout, "prompt")
        post = await _hook(
            "prompt_post_fetch", principal, {"name": name, "server_id": server_id, "result": asdict(result)}
        )
        result = PromptResult(**post.get("result", asdict(result)))
        metric.bytes_out = len(json.dumps(result.messages, default=str))
        return result
    except Exception as exc:
        error = _catalog_error(exc)
        if error is exc:
            raise
        raise error from exc
    finally:
        metric.done(error)


# --- Completion -----------------------------------------------------------------------

EMPTY_COMPLETION = {"values": [], "total": 0, "hasMore": False}


def _plan_complete(principal: Principal, ref: dict[str, Any], argument: dict[str, Any], server_id: str | None):
    """The upstream (target, ref under upstream names) to ask, or None for a local entity."""
    kind = ref.get("type")
    if kind == "ref/prompt":
        prompt = selectors.resolve_prompt(principal, str(ref.get("name")), server_id)
        if argument["name"] not in {a["name"] for a in prompt.arguments}:
            raise InvalidInput(f"prompt {prompt.name!r} has no argument {argument['name']!r}", "argument")
        if prompt.gateway_id is None:
            return None
        return upstream_target(prompt.gateway), {"type": "ref/prompt", "name": prompt.original_name}
    if kind == "ref/resource":
        uri = str(ref.get("uri"))
        entries = selectors.exposed_resource_templates(principal, server_id)
        template = next((e.obj for e in entries if e.name == uri), None)
        if template is None:
            resource = selectors.resolve_resource(principal, uri, server_id)
            gateway = resource.gateway
        else:
            gateway = template.gateway
        return None if gateway is None else (upstream_target(gateway), {"type": "ref/resource", "uri": uri})
    raise InvalidInput(f"unknown completion reference type {kind!r}", "ref")


async def complete(
    principal: Principal, ref: dict[str, Any], argument: dict[str, Any], *, server_id: str | None = None
) -> dict[str, Any]:
    """Argument completion: delegated to the upstream for federated prompts and templates;
    local ones have no value sources, so their answer is an empty list."""
    if not isinstance(ref, dict) or not isinstance(argument, dict) or not isinstance(argument.get("name"), str):
        raise CatalogError("invalid_arguments", "completion needs a ref object and an argument with a name")
    try:
        plan = await sync_to_async(_plan_complete)(principal, ref, argument, server_id)
        if plan is None:
            return dict(EMPTY_COMPLETION)
        target, upstream_ref = plan
        return await _runtime("MCP", "complete")(target, upstream_ref, argument)
    except Exception as exc:
        error = _catalog_error(exc)
        if error is exc:
            raise
        raise error from exc
