"""An MCP server that fronts one upstream: the engine of the ``translate`` and ``mcp_wrapper`` bridges.

Every request a client sends is forwarded to the upstream over the pooled session
(so a stdio upstream runs once, supervised, however many clients connect), and the
upstream's progress, log messages and requests to the client (sampling, elicitation,
roots) are relayed back to the client that made the call.

``translate`` serves a stdio upstream over SSE and/or streamable HTTP; ``mcp_wrapper``
serves a remote (streamable HTTP) upstream over stdio.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

import mcp_types as types
from mcp.client import Client
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.sse import SseServerTransport
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from apps.protocols.spi import CallOptions, CatalogError, UpstreamTarget

from ..errors import FEDERATION_LOOP
from .runtime import MCPUpstreamRuntime

logger = logging.getLogger(__name__)

__all__ = ["proxy_server", "serve_http_app", "serve_stdio"]

_ERROR_CODES = {
    "not_found": types.INVALID_PARAMS,
    "invalid_arguments": types.INVALID_PARAMS,
    "timeout": types.REQUEST_TIMEOUT,
    "unavailable": types.INTERNAL_ERROR,
    "loop": FEDERATION_LOOP,
}

_CLIENT_REQUESTS: dict[str, tuple[type, type]] = {
    "sampling/createMessage": (types.CreateMessageRequest, types.CreateMessageResult),
    "elicitation/create": (types.ElicitRequest, types.ElicitResult),
    "roots/list": (types.ListRootsRequest, types.ListRootsResult),
}


def _mcp_error(exc: CatalogError) -> MCPError:
    return MCPError(code=_ERROR_CODES.get(exc.code, types.INTERNAL_ERROR), message=exc.message, data=exc.data or None)


def _connection_key(session: Any) -> int:
    # Each request gets its own ServerSession view of one client connection: key by the connection.
    return id(getattr(session, "_connection", session))


class _Recent:
    """The most recent client sessions seen (bounded), to pass change notifications on to."""

    def __init__(self, limit: int = 1000) -> None:
        self._items: OrderedDict[int, Any] = OrderedDict()
        self._limit = limit

    def add(self, session: Any) -> None:
        """Remember a session (the oldest is forgotten past the limit)."""
        key = _connection_key(session)
        self._items[key] = session
        self._items.move_to_end(key)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)

    def discard(self, session: Any) -> None:
        """Forget a session."""
        self._items.pop(_connection_key(session), None)

    def items(self) -> list[Any]:
        """The remembered sessions."""
        return list(self._items.values())


def _plain(value: Any) -> dict[str, Any]:
    """A model or mapping as a plain JSON dict."""
    if value is None:
        return {}
    if hasattr(value, "model_dump"):
        return value.model_dump(by_alias=True, mode="json", exclude_none=True)
    return dict(value)


def _call_options(ctx: ServerRequestContext[Any], state: dict[str, Any]) -> CallOptions:
    """Relay plumbing for one request: progress, logs and client requests go back to this client."""
    meta = _plain(ctx.meta)
    token = meta.pop("progressToken", meta.pop("progress_token", None))
    session = ctx.session
    related = str(ctx.request_id) if ctx.request_id is not None else None

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if token is not None:
            await session.send_progress_notification(token, progress, total, message, related_request_id=related)

    async def on_log(level: str, data: Any, logger_name: str | None) -> None:
        await session.send_log_message(level, data, logger_name, related_request_id=ctx.request_id)

    async def request_client(method: str, params: dict[str, Any]) -> dict[str, Any]:
        request_type, result_type = _CLIENT_REQUESTS[method]
        request = request_type.model_validate({"method": method, "params": params or None})
        try:
            result = await session.send_request(
                request, result_type, metadata=ServerMessageMetadata(related_request_id=ctx.request_id)
            )
        except MCPError as exc:
            raise CatalogError("internal", f"the client refused {method}: {exc.error.message}") from None
        return result.model_dump(by_alias=True, mode="json", exclude_none=True)

    capabilities = session.client_capabilities
    return CallOptions(
        progress_token=token,
        on_progress=on_progress,
        on_log=on_log,
        log_level=state.get("log_level"),
        request_client=request_client,
        meta=meta,
        client_protocol_version=ctx.protocol_version,
        client_capabilities=_plain(capabilities),
    )


def proxy_server(runtime: MCPUpstreamRuntime, target: UpstreamTarget, *, name: str | None = None) -> Server[Any]:
    """A low-level MCP server whose every method is answered by ``target`` through ``runtime``."""
    state: dict[str, Any] = {}
    sessions = _Recent()
    subscribers: dict[str, _Recent] = {}

    async def relay_event(gateway_id: str, method: str, params: dict[str, Any]) -> None:
        """Pass the upstream's change notifications on to the clients connected to the bridge."""
        if gateway_id != target.gateway_id:
            return
        if method == "notifications/resources/updated":
            receivers = subscribers.get(str(params.get("uri")), _Recent()).items()
        else:
            receivers = sessions.items()
        for session in receivers:
            try:
                if method == "notifications/resources/updated":
                    await session.send_resource_updated(params["uri"])
                elif method == "notifications/tools/list_changed":
                    await session.send_tool_list_changed()
                elif method == "notifications/prompts/list_changed":
                    await session.send_prompt_list_changed()
                elif method == "notifications/resources/list_changed":
                    await session.send_resource_list_changed()
            except Exception as exc:  # a client that went away, or one without a back-channel
                logger.debug("bridge: could not pass %s on: %s", method, exc)
                sessions.discard(session)
                for group in subscribers.values():
                    group.discard(session)

    runtime.add_listener(relay_event)

    async def forward(operation: Any, ctx: ServerRequestContext[Any], *, idempotent: bool = True) -> Any:
        sessions.add(ctx.session)
        try:
            return await runtime.pool().run(target, operation, _call_options(ctx, state), idempotent=idempotent)
        except CatalogError as exc:
            raise _mcp_error(exc) from None

    async def list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> Any:
        return await forward(lambda c, s: c.session.list_tools(params=params), ctx)

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        sessions.add(ctx.session)
        try:
            result = await runtime.call_tool(target, params.name, params.arguments or {}, _call_options(ctx, state))
        except CatalogError as exc:
            raise _mcp_error(exc) from None
        return types.CallToolResult.model_validate(
            {
                "content": result.content,
                "structuredContent": result.structured_content,
                "isError": result.is_error,
                "_meta": result.meta,
            }
        )

    async def list_resources(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> Any:
        return await forward(lambda c, s: c.session.list_resources(params=params), ctx)

    async def list_templates(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> Any:
        return await forward(lambda c, s: c.session.list_resource_templates(params=params), ctx)

    async def read_resource(ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams) -> Any:
        return await forward(lambda c, s: c.read_resource(str(params.uri), cache_mode="bypass"), ctx)

    async def subscribe(ctx: ServerRequestContext[Any], params: types.SubscribeRequestParams) -> types.EmptyResult:
        subscribers.setdefault(str(params.uri), _Recent()).add(ctx.session)
        try:
            await runtime.subscribe_resource(target, str(params.uri))
        except CatalogError as exc:
            raise _mcp_error(exc) from None
        return types.EmptyResult()

    async def unsubscribe(ctx: ServerRequestContext[Any], params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        subscribers.get(str(params.uri), _Recent()).discard(ctx.session)
        try:
            await runtime.unsubscribe_resource(target, str(params.uri))
        except CatalogError as exc:
            raise _mcp_error(exc) from None
        return types.EmptyResult()

    async def list_prompts(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> Any:
        return await forward(lambda c, s: c.session.list_prompts(params=params), ctx)

    async def get_prompt(ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams) -> Any:
        return await forward(lambda c, s: c.get_prompt(params.name, params.arguments or {}), ctx)

    async def complete(ctx: ServerRequestContext[Any], params: types.CompleteRequestParams) -> Any:
        argument = {"name": params.argument.name, "value": params.argument.value}
        context_args = params.context.arguments if params.context is not None else None

        async def op(c: Client, seconds: float) -> Any:
            return await c.session.complete(ref=params.ref, argument=argument, context_arguments=context_args)

        return await forward(op, ctx)

    async def set_level(ctx: ServerRequestContext[Any], params: types.SetLevelRequestParams) -> types.EmptyResult:
        state["log_level"] = str(params.level)
        return types.EmptyResult()

    server: Server[Any] = Server(
        name or f"bridge:{target.name}",
        version="0.1.0",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_subscribe_resource=subscribe,
        on_unsubscribe_resource=unsubscribe,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_completion=complete,
    )
    # Added after construction: passing it to the constructor warns that logging is deprecated
    # at 2026-07-28, but handshake-era clients still use it.
    server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    return server


def serve_http_app(server: Server[Any], *, sse: bool, streamable_http: bool, runtime: MCPUpstreamRuntime) -> Starlette:
    """An ASGI app serving ``server`` at /sse + /messages/ and/or /mcp, with /health."""
    routes: list[Route | Mount] = []
    http_app = None
    if streamable_http:
        http_app = server.streamable_http_app(streamable_http_path="/mcp")
        routes.extend(http_app.routes)
    if sse:
        transport = SseServerTransport("/messages/")

        async def handle_sse(request: Request) -> Response:
            async with transport.connect_sse(request.scope, request.receive, request._send) as (read, write):
                await server.run(read, write, server.create_initialization_options())
            return Response()

        routes.append(Route("/sse", endpoint=handle_sse, methods=["GET"]))
        routes.append(Mount("/messages/", app=transport.handle_post_message))

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    routes.append(Route("/health", endpoint=health, methods=["GET"]))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            if http_app is not None:
                async with server.session_manager.run():
                    yield
            else:
                yield
        finally:
            await runtime.shutdown()

    return Starlette(routes=routes, lifespan=lifespan)


async def serve_stdio(server: Server[Any], runtime: MCPUpstreamRuntime) -> None:
    """Serve ``server`` on this process's stdin/stdout until stdin closes."""
    try:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
    finally:
        await runtime.shutdown()
