"""The MCP request and notification handlers, one function per method.

Each handler takes a ``Call`` (the request as understood for its revision) and returns
the result object without the modern envelope members (``resultType``, cache hints),
which the dispatcher adds. Handlers reach the core only through the SPI services of
the context; they never touch the wire.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from mcp_types import LOG_LEVEL_META_KEY

from apps.protocols.spi import CallOptions, CatalogError

from . import cursors, shapes
from .context import RequestContext, principal_key
from .errors import FEDERATION_LOOP, INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, RpcError
from .inflight import RELAY_CHANNEL, inflight, pending
from .resume import resumer
from .revisions import SUPPORTED_REVISIONS, is_modern, negotiate
from .suspended import SuspendedCall, suspended

logger = logging.getLogger(__name__)

__all__ = ["CATALOG_CHANNEL", "LOG_LEVELS", "REQUEST_HANDLERS", "Call", "handle_notification", "server_capabilities"]

#: Channel on which the core announces catalog changes (the session service's contract):
#: {"kind": "tools"|"resources"|"prompts"}, or {"kind": "resource", "uri": ...} for one resource.
CATALOG_CHANNEL = "catalog.changes"
#: RFC 5424 levels as MCP names them, least severe first.
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
SERVER_NAME = "ContextForge"
SERVER_VERSION = "0.1.0"
SUBSCRIPTION_ID_META_KEY = "io.modelcontextprotocol/subscriptionId"
#: Seconds a server→client request (sampling, elicitation, roots) waits for the client.
CLIENT_REQUEST_TIMEOUT = 300.0
_CLIENT_CAPABILITY = {
    "sampling/createMessage": "sampling",
    "elicitation/create": "elicitation",
    "roots/list": "roots",
}


@dataclass
class Call:
    """One request as the handlers see it."""

    context: RequestContext
    revision: str
    request_id: Any
    params: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    client_capabilities: dict[str, Any] = field(default_factory=dict)

    @property
    def modern(self) -> bool:
        """True for a 2026-07-28 request."""
        return is_modern(self.revision)

    @property
    def log_level(self) -> str | None:
        """The level from which log messages are relayed (None: relay none)."""
        if self.modern:
            level = self.meta.get(LOG_LEVEL_META_KEY)
            return level if level in LOG_LEVELS else None
        session = self.context.session
        return session.log_level if session is not None else None

    def options(self) -> CallOptions:
        """Per-call plumbing for the SPI: progress and log relays, meta, client facts, caller headers."""
        token = self.meta.get("progressToken")
        if not (isinstance(token, str) or (isinstance(token, int) and not isinstance(token, bool))):
            token = None
        return CallOptions(
            progress_token=token,
            on_progress=self._progress if token is not None and self.context.send else None,
            on_log=self._log if self.log_level and self.context.send else None,
            request_client=self._request_client if self.context.send and not self.modern else None,
            log_level=self.log_level,
            meta=self.meta,
            client_protocol_version=self.revision,
            client_capabilities=self.client_capabilities,
            headers=self.context.caller_headers or {},
        )

    async def _progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        params: dict[str, Any] = {"progressToken": self.meta["progressToken"], "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None and shapes.since(self.revision, "2025-03-26"):
            params["message"] = message
        await self._send("notifications/progress", params)

    async def _log(self, level: str, data: Any, logger_name: str | None = None) -> None:
        threshold = self.log_level
        if threshold is None or level not in LOG_LEVELS or LOG_LEVELS.index(level) < LOG_LEVELS.index(threshold):
            return
        params: dict[str, Any] = {"level": level, "data": data}
        if logger_name:
            params["logger"] = logger_name
        await self._send("notifications/message", params)

    async def _request_client(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send a request to the client (sampling, elicitation, roots) and await its answer.

        The answer may arrive on any worker; it is relayed here. Raises CatalogError when
        the client lacks the capability, answers with an error, or does not answer in time.
        """
        needed = _CLIENT_CAPABILITY.get(method)
        if needed is not None and needed not in self.client_capabilities:
            raise CatalogError("invalid_arguments", f"The client does not support {method}")
        request_id = f"cf-{secrets.token_hex(8)}"
        key = self.context.stream_key
        future = pending.open(key, request_id)
        try:
            await self.context.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
            async with asyncio.timeout(CLIENT_REQUEST_TIMEOUT):
                response = await future
        except TimeoutError:
            raise CatalogError("timeout", f"The client did not answer {method} in time") from None
        finally:
            pending.close(key, request_id)
        if "error" in response:
            error = response["error"] if isinstance(response["error"], dict) else {}
            raise CatalogError("internal", f"The client refused {method}: {error.get('message', 'error')}")
        result = response.get("result")
        return result if isinstance(result, dict) else {}

    async def _send(self, method: str, params: dict[str, Any]) -> None:
        if self.context.send is not None:
            await self.context.send({"jsonrpc": "2.0", "method": method, "params": params})


# --- parameter helpers --------------------------------------------------------------


def _require_str(params: dict[str, Any], key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise RpcError(INVALID_PARAMS, f"params.{key} must be a non-empty string")
    return value


def _optional_object(params: dict[str, Any], key: str) -> dict[str, Any]:
    value = params.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RpcError(INVALID_PARAMS, f"params.{key} must be an object")
    return value


def catalog_error(exc: CatalogError) -> RpcError:
    """The JSON-RPC error a catalog failure becomes ("missing" and "forbidden" look alike)."""
    if exc.code in ("not_found", "forbidden", "invalid_arguments"):
        return RpcError(INVALID_PARAMS, exc.message, exc.data or None)
    if exc.code == "loop":
        return RpcError(FEDERATION_LOOP, exc.message, exc.data or None)
    return RpcError(INTERNAL_ERROR, exc.message)


def server_capabilities(revision: str) -> dict[str, Any]:
    """What the gateway offers, as the revision spells it."""
    caps: dict[str, Any] = {
        "tools": {"listChanged": True},
        "resources": {"listChanged": True},
        "prompts": {"listChanged": True},
        "logging": {},
    }
    if not is_modern(revision):
        caps["resources"]["subscribe"] = True
    if shapes.since(revision, "2025-03-26"):
        caps["completions"] = {}
    return caps


async def _server_info(call: Call) -> dict[str, Any]:
    info = {"name": call.context.server_name or SERVER_NAME, "version": SERVER_VERSION}
    return info


# --- lifecycle ----------------------------------------------------------------------


async def initialize(call: Call) -> dict[str, Any]:
    """Negotiate a handshake-era revision and record the client on the session."""
    requested = call.params.get("protocolVersion")
    if not isinstance(requested, str):
        raise RpcError(INVALID_PARAMS, "params.protocolVersion must be a string")
    capabilities = _optional_object(call.params, "capabilities")
    client_info = call.params.get("clientInfo")
    revision = negotiate(requested)
    session = call.context.session
    if session is not None:
        session.protocol_version = revision
        session.client_capabilities = capabilities
        session.client_info = client_info if isinstance(client_info, dict) else None
        session.dirty = True
    call.revision = revision
    return {
        "protocolVersion": revision,
        "capabilities": server_capabilities(revision),
        "serverInfo": await _server_info(call),
    }


async def ping(call: Call) -> dict[str, Any]:
    """Liveness."""
    return {}


async def discover(call: Call) -> dict[str, Any]:
    """2026-07-28 discovery: versions, capabilities and server identity, no session."""
    return {
        "supportedVersions": list(reversed(SUPPORTED_REVISIONS)),
        "capabilities": server_capabilities(call.revision),
    }


async def set_level(call: Call) -> dict[str, Any]:
    """Set the session's log level (handshake era; 2026-07-28 sends it per request)."""
    level = call.params.get("level")
    if level not in LOG_LEVELS:
        raise RpcError(INVALID_PARAMS, f"params.level must be one of {', '.join(LOG_LEVELS)}")
    session = call.context.session
    if session is not None:
        session.log_level = level
        session.dirty = True
    return {}


# --- tools --------------------------------------------------------------------------


def _scope(call: Call, method: str) -> str:
    return f"{method}|{call.context.server_id or '*'}"


async def _list_page(call: Call, fetch: Any, scope: str, key: str, shape: Any) -> dict[str, Any]:
    """One page of a catalog listing, shaped for the call's revision, with ``nextCursor`` when more remain."""
    ctx = call.context
    try:
        specs = await fetch(ctx.principal, ctx.server_id)
    except CatalogError as exc:
        raise catalog_error(exc) from None
    page, next_cursor = cursors.paginate(specs, _scope(call, scope), call.params.get("cursor"))
    result: dict[str, Any] = {key: [shape(s, call.revision) for s in page]}
    if next_cursor:
        result["nextCursor"] = next_cursor
    return result


async def list_tools(call: Call) -> dict[str, Any]:
    """Tools the caller may see, in the catalog's stable order, paginated."""
    return await _list_page(call, call.context.services.catalog.list_tools, "tools", "tools", shapes.tool)


async def call_tool(call: Call) -> dict[str, Any]:
    """Invoke a tool; its own failures come back as a result with isError=true.

    A 2026-07-28 call runs as a suspendable call: when the upstream asks the client
    something, the answer is ``input_required`` and the client's retry (with
    ``inputResponses`` and ``requestState``) resumes it on whichever worker holds it
    (see suspended.py and resume.py).
    """
    name = _require_str(call.params, "name")
    arguments = _optional_object(call.params, "arguments")
    if not call.modern:
        return await _invoke_tool(call, name, arguments, call.options())
    ctx = call.context
    owner = f"{principal_key(ctx.principal)}|{ctx.server_id or ''}|{name}"
    state = call.params.get("requestState")
    if state is not None:
        if not isinstance(state, str):
            raise RpcError(INVALID_PARAMS, "params.requestState must be a string")
        return await resumer.resume(ctx.services, state, owner, _optional_object(call.params, "inputResponses"))
    options = call.options()
    options.on_progress = _quiet(options.on_progress)
    options.on_log = _quiet(options.on_log)

    async def run(held: SuspendedCall) -> dict[str, Any]:
        return await _invoke_tool(call, name, arguments, replace(options, request_client=held.request_client))

    return await suspended.advance(suspended.start(owner, run))


def _quiet(sink: Callable[..., Awaitable[None]] | None) -> Callable[..., Awaitable[None]] | None:
    """A relay that drops what it cannot deliver: a suspended call outlives its first request's stream."""
    if sink is None:
        return None

    async def deliver(*args: Any) -> None:
        try:
            await sink(*args)
        except Exception:
            logger.debug("dropped a relay message of a suspended call", exc_info=True)

    return deliver


async def _invoke_tool(call: Call, name: str, arguments: dict[str, Any], options: CallOptions) -> dict[str, Any]:
    ctx = call.context
    try:
        result = await ctx.services.catalog.call_tool(
            ctx.principal, name, arguments, server_id=ctx.server_id, options=options
        )
    except CatalogError as exc:
        if exc.code in ("unavailable", "timeout"):
            return {"content": [{"type": "text", "text": exc.message}], "isError": True}
        raise catalog_error(exc) from None
    return shapes.tool_result(result, call.revision)


# --- resources ----------------------------------------------------------------------


async def list_resources(call: Call) -> dict[str, Any]:
    """Readable resources, paginated."""
    return await _list_page(
        call, call.context.services.catalog.list_resources, "resources", "resources", shapes.resource
    )


async def list_resource_templates(call: Call) -> dict[str, Any]:
    """Resource templates, paginated."""
    return await _list_page(
        call,
        call.context.services.catalog.list_resource_templates,
        "templates",
        "resourceTemplates",
        shapes.resource_template,
    )


async def read_resource(call: Call) -> dict[str, Any]:
    """A resource's contents."""
    uri = _require_str(call.params, "uri")
    ctx = call.context
    try:
        contents = await ctx.services.catalog.read_resource(
            ctx.principal, uri, server_id=ctx.server_id, options=call.options()
        )
    except CatalogError as exc:
        raise catalog_error(exc) from None
    return {"contents": [shapes.resource_contents(c) for c in contents]}


async def subscribe(call: Call) -> dict[str, Any]:
    """Record a resource subscription on the session (resources/updated follows on change)."""
    uri = _require_str(call.params, "uri")
    session = call.context.session
    if session is not None and uri not in session.subscriptions:
        session.subscriptions.append(uri)
        session.dirty = True
    return {}


async def unsubscribe(call: Call) -> dict[str, Any]:
    """Drop a resource subscription."""
    uri = _require_str(call.params, "uri")
    session = call.context.session
    if session is not None and uri in session.subscriptions:
        session.subscriptions.remove(uri)
        session.dirty = True
    return {}


# --- prompts and completion ---------------------------------------------------------


async def list_prompts(call: Call) -> dict[str, Any]:
    """Prompts, paginated."""
    return await _list_page(call, call.context.services.catalog.list_prompts, "prompts", "prompts", shapes.prompt)


async def get_prompt(call: Call) -> dict[str, Any]:
    """A rendered prompt."""
    name = _require_str(call.params, "name")
    arguments = _optional_object(call.params, "arguments")
    for key, value in arguments.items():
        if not isinstance(value, str):
            raise RpcError(INVALID_PARAMS, f"params.arguments.{key} must be a string")
    ctx = call.context
    try:
        result = await ctx.services.catalog.get_prompt(
            ctx.principal, name, arguments, server_id=ctx.server_id, options=call.options()
        )
    except CatalogError as exc:
        raise catalog_error(exc) from None
    return shapes.prompt_result(result, call.revision)


async def complete(call: Call) -> dict[str, Any]:
    """Argument completion for a prompt or resource template."""
    ref = _optional_object(call.params, "ref")
    argument = _optional_object(call.params, "argument")
    if ref.get("type") not in ("ref/prompt", "ref/resource"):
        raise RpcError(INVALID_PARAMS, "params.ref.type must be ref/prompt or ref/resource")
    if not isinstance(argument.get("name"), str) or not isinstance(argument.get("value"), str):
        raise RpcError(INVALID_PARAMS, "params.argument needs string name and value")
    ctx = call.context
    try:
        completion = await ctx.services.catalog.complete(ctx.principal, ref, argument, server_id=ctx.server_id)
    except CatalogError as exc:
        raise catalog_error(exc) from None
    values = [v for v in completion.get("values", []) if isinstance(v, str)][:100]
    out: dict[str, Any] = {"values": values}
    if isinstance(completion.get("total"), int):
        out["total"] = completion["total"]
    out["hasMore"] = bool(completion.get("hasMore", False))
    return {"completion": out}


# --- subscriptions/listen (2026-07-28) ----------------------------------------------


def _listen_filters(params: dict[str, Any]) -> dict[str, Any]:
    filters = _optional_object(params, "notifications")
    clean: dict[str, Any] = {}
    for key in ("toolsListChanged", "promptsListChanged", "resourcesListChanged"):
        if filters.get(key) is True:
            clean[key] = True
    uris = filters.get("resourceSubscriptions")
    if uris is not None:
        if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
            raise RpcError(INVALID_PARAMS, "params.notifications.resourceSubscriptions must be a list of strings")
        clean["resourceSubscriptions"] = uris
    return clean


def change_notification(event: dict[str, Any], wants: Callable[[str, str | None], bool]) -> dict[str, Any] | None:
    """The notification a catalog change becomes for one listener, or None if it does not care."""
    kind = event.get("kind")
    uri = event.get("uri") if isinstance(event.get("uri"), str) else None
    method = {
        "tools": "notifications/tools/list_changed",
        "prompts": "notifications/prompts/list_changed",
        "resources": "notifications/resources/list_changed",
        "resource": "notifications/resources/updated",
    }.get(kind)
    if method is None or not wants(kind, uri):
        return None
    params: dict[str, Any] = {"uri": uri} if kind == "resource" else {}
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params:
        message["params"] = params
    return message


async def listen(call: Call) -> dict[str, Any]:
    """Hold the stream open and relay the catalog changes the client asked for.

    Returns (ending the subscription gracefully) when the module drains.
    """
    ctx = call.context
    if ctx.send is None:
        raise RpcError(INVALID_REQUEST, "subscriptions/listen needs a streaming transport")
    filters = _listen_filters(call.params)
    subscription_id = str(call.request_id)
    await ctx.send(
        {
            "jsonrpc": "2.0",
            "method": "notifications/subscriptions/acknowledged",
            "params": {"_meta": {SUBSCRIPTION_ID_META_KEY: subscription_id}, "notifications": filters},
        }
    )
    flags = {"tools": "toolsListChanged", "prompts": "promptsListChanged", "resources": "resourcesListChanged"}

    def wants(kind: str, uri: str | None) -> bool:
        if kind == "resource":
            return uri in filters.get("resourceSubscriptions", ())
        return bool(filters.get(flags[kind]))

    stop = ctx.extras.get("stop")
    async for event in ctx.services.sessions.listen(CATALOG_CHANNEL):
        if stop is not None and stop.is_set():
            break
        note = change_notification(event, wants)
        if note is not None:
            await ctx.send(note)
    return {"_meta": {SUBSCRIPTION_ID_META_KEY: subscription_id}}


REQUEST_HANDLERS: dict[str, Callable[[Call], Awaitable[dict[str, Any]]]] = {
    "initialize": initialize,
    "ping": ping,
    "server/discover": discover,
    "logging/setLevel": set_level,
    "tools/list": list_tools,
    "tools/call": call_tool,
    "resources/list": list_resources,
    "resources/templates/list": list_resource_templates,
    "resources/read": read_resource,
    "resources/subscribe": subscribe,
    "resources/unsubscribe": unsubscribe,
    "prompts/list": list_prompts,
    "prompts/get": get_prompt,
    "completion/complete": complete,
    "subscriptions/listen": listen,
}

#: Requests that run as their own task so notifications/cancelled can stop them.
CANCELLABLE = frozenset({"tools/call", "resources/read", "prompts/get", "completion/complete"})


async def handle_notification(context: RequestContext, method: str, params: dict[str, Any]) -> None:
    """Act on a client notification; unknown ones are ignored, as JSON-RPC requires."""
    if method == "notifications/initialized":
        session = context.session
        if session is not None and not session.initialized:
            session.initialized = True
            session.dirty = True
    elif method == "notifications/cancelled":
        request_id = params.get("requestId")
        if isinstance(request_id, bool) or not isinstance(request_id, (str, int)):
            return
        if not inflight.cancel(context.stream_key, request_id) and context.session is not None:
            # Running on another worker, perhaps: every worker listens on this channel.
            await context.services.sessions.publish(
                RELAY_CHANNEL, {"kind": "cancel", "stream_key": context.stream_key, "request_id": request_id}
            )


async def handle_client_response(context: RequestContext, response: dict[str, Any]) -> None:
    """Deliver a client's answer to the server request awaiting it, on this worker or another."""
    if not isinstance(response.get("id"), str):
        return
    if not pending.resolve(context.stream_key, response) and context.session is not None:
        await context.services.sessions.publish(
            RELAY_CHANNEL, {"kind": "reply", "stream_key": context.stream_key, "response": response}
        )
