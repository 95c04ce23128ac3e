"""The MCP upstream runtime: the core calls federated MCP tools, resources and prompts through it.

Implements the SPI ``InvocationRuntime`` (``call_tool``) plus the other operations the
core needs from an MCP upstream: ``read_resource``, ``get_prompt``, ``complete``,
``discover`` (every tool, resource, template and prompt, all pages), ``ping``,
resource subscriptions, and the two halves of an OAuth authorization code grant
(``begin_authorization``, ``complete_authorization``). Every operation runs on the
worker's pooled session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from apps.protocols.spi import (
    CallOptions,
    CatalogError,
    PromptResult,
    PromptSpec,
    ResourceContents,
    ResourceSpec,
    ResourceTemplateSpec,
    ToolResult,
    ToolSpec,
    UpstreamTarget,
)

from . import convert, direct, oauth
from .config import PoolConfig
from .loop import BackgroundLoop, run_sync
from .pool import PoolRegistry, UpstreamPool
from .relay import hop_meta

logger = logging.getLogger(__name__)

__all__ = ["Discovery", "MCPUpstreamRuntime", "UpstreamEvent"]

#: (gateway_id, method, params) of an upstream notification not tied to a request:
#: notifications/tools/list_changed, .../resources/list_changed, .../prompts/list_changed,
#: notifications/resources/updated.
UpstreamEvent = Callable[[str, str, dict[str, Any]], Any]


@dataclass(frozen=True)
class Discovery(Mapping[str, Any]):
    """What an upstream offers, as found by connecting and listing every page.

    Also a read-only mapping of its fields (``dict(discovery)``), the shape the core's
    catalog sync takes.
    """

    protocol_version: str
    server_info: dict[str, Any]
    capabilities: dict[str, Any]
    instructions: str | None = None
    tools: list[ToolSpec] = field(default_factory=list)
    resources: list[ResourceSpec] = field(default_factory=list)
    resource_templates: list[ResourceTemplateSpec] = field(default_factory=list)
    prompts: list[PromptSpec] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dataclass_fields__)

    def __len__(self) -> int:
        return len(self.__dataclass_fields__)


class MCPUpstreamRuntime:
    """Reaches MCP upstreams for the core; one per process, one pool per event loop."""

    protocol = "mcp"

    def __init__(self, config: PoolConfig | Callable[[], PoolConfig] | None = None) -> None:
        factory = config if callable(config) else (lambda: config) if config is not None else PoolConfig.from_settings
        self._listeners: list[UpstreamEvent] = []
        self.pools = PoolRegistry(factory, on_event=self._dispatch_event)
        self.background = BackgroundLoop()
        self.background.on_stop(self.shutdown)

    def run_sync(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call one of this runtime's coroutines from synchronous code, on a loop with pooled sessions."""
        return run_sync(self.background, function, *args, **kwargs)

    # --- plumbing -----------------------------------------------------------------

    @property
    def config(self) -> PoolConfig:
        """The pool configuration."""
        return self.pools.config

    def pool(self) -> UpstreamPool:
        """The running loop's pool."""
        return self.pools.current()

    def add_listener(self, listener: UpstreamEvent) -> None:
        """Be told of list_changed and resources/updated notifications from any upstream."""
        self._listeners.append(listener)

    def remove_listener(self, listener: UpstreamEvent) -> None:
        """Stop being told of upstream notifications."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def _dispatch_event(self, gateway_id: str, method: str, params: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            try:
                result = listener(gateway_id, method, params)
                if hasattr(result, "__await__"):
                    await result
            except Exception:
                logger.exception("upstream event listener failed for %s", method)

    def _meta(self, target: UpstreamTarget, options: CallOptions) -> dict[str, Any]:
        return hop_meta(options, self.config.instance_id, self.config.max_hops, target.name)

    # --- InvocationRuntime --------------------------------------------------------------

    async def call_tool(
        self, target: UpstreamTarget, name: str, arguments: dict[str, Any], options: CallOptions
    ) -> ToolResult:
        """Call a tool on the upstream under its original name (never retried once sent)."""
        meta = self._meta(target, options)
        pool = self.pool()
        arguments = arguments or {}

        async def op(client: Client, seconds: float) -> ToolResult:
            conn = pool.connection(target)
            lean = direct.prepare(conn, client, name, arguments, meta, options)
            if lean is not None:
                return convert.tool_result(await direct.run(lean, seconds))
            if conn is not None:
                conn.sdk_calls += 1
            result = await client.call_tool(
                name,
                arguments,
                read_timeout_seconds=seconds,
                progress_callback=options.on_progress,
                meta=meta,
            )
            return convert.tool_result(result)

        return await pool.run(target, op, options, idempotent=False)

    async def read_resource(self, target: UpstreamTarget, uri: str, options: CallOptions) -> list[ResourceContents]:
        """Read a resource from the upstream."""
        meta = self._meta(target, options)

        async def op(client: Client, seconds: float) -> list[ResourceContents]:
            return convert.resource_contents(await client.read_resource(uri, meta=meta, cache_mode="bypass"))

        return await self.pool().run(target, op, options, idempotent=True)

    async def get_prompt(
        self, target: UpstreamTarget, name: str, arguments: dict[str, str], options: CallOptions
    ) -> PromptResult:
        """Render a prompt on the upstream."""
        meta = self._meta(target, options)

        async def op(client: Client, seconds: float) -> PromptResult:
            return convert.prompt_result(await client.get_prompt(name, arguments or {}, meta=meta))

        return await self.pool().run(target, op, options, idempotent=True)

    async def complete(
        self,
        target: UpstreamTarget,
        ref: dict[str, Any],
        argument: dict[str, Any],
        context_arguments: dict[str, str] | None = None,
        options: CallOptions | None = None,
    ) -> dict[str, Any]:
        """Argument completion on the upstream: {"values": [...], "total": n, "hasMore": bool}."""
        try:
            reference = convert.reference(ref)
        except ValueError as exc:
            raise CatalogError("invalid_arguments", str(exc)) from None

        async def op(client: Client, seconds: float) -> dict[str, Any]:
            result = await client.complete(reference, {k: str(v) for k, v in argument.items()}, context_arguments)
            return convert.dump(result.completion)

        return await self.pool().run(target, op, options, idempotent=True)

    async def begin_authorization(self, target: UpstreamTarget) -> dict[str, Any]:
        """Start an OAuth authorization code grant: the authorization URL, state and pending exchange data."""
        return await oauth.begin_authorization(target)

    async def complete_authorization(
        self, target: UpstreamTarget, pending: dict[str, Any], code: str, iss: str | None = None
    ) -> None:
        """Finish it: exchange the code and store the tokens through the core's OAuth store."""
        await oauth.complete_authorization(target, pending, code, iss)

    async def discover(self, target: UpstreamTarget, *, budget: float | None = None) -> Discovery:
        """Negotiate and list everything the upstream offers, following every page."""
        max_pages = self.config.max_pages

        async def op(client: Client, seconds: float) -> Discovery:
            caps = client.server_capabilities
            tools: list[ToolSpec] = []
            resources: list[ResourceSpec] = []
            templates: list[ResourceTemplateSpec] = []
            prompts: list[PromptSpec] = []
            if caps.tools is not None:
                tools = [convert.tool(t) for t in await _pages(client.session.list_tools, "tools", max_pages)]
            if caps.resources is not None:
                resources = [
                    convert.resource(r) for r in await _pages(client.session.list_resources, "resources", max_pages)
                ]
                templates = [
                    convert.template(t)
                    for t in await _pages(client.session.list_resource_templates, "resource_templates", max_pages)
                ]
            if caps.prompts is not None:
                prompts = [convert.prompt(p) for p in await _pages(client.session.list_prompts, "prompts", max_pages)]
            info = client.server_info
            return Discovery(
                protocol_version=client.protocol_version,
                server_info=convert.dump(info) if info is not None else {},
                capabilities=convert.dump(caps),
                instructions=client.instructions,
                tools=tools,
                resources=resources,
                resource_templates=templates,
                prompts=prompts,
            )

        return await self.pool().run(target, op, None, idempotent=True, budget=budget)

    async def ping(self, target: UpstreamTarget, *, budget: float | None = None) -> dict[str, Any]:
        """Liveness on the pooled session: {"latency_ms": ..., "protocol_version": ...}."""
        started = time.monotonic()

        async def op(client: Client, seconds: float) -> str:
            if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
                await client.session.send_discover(client.protocol_version)
            else:
                await client.session.send_ping()
            return client.protocol_version

        version = await self.pool().run(target, op, None, idempotent=True, budget=budget)
        return {"latency_ms": round((time.monotonic() - started) * 1000, 1), "protocol_version": version}

    async def ping_all(self, targets: list[UpstreamTarget], *, budget: float | None = None) -> dict[str, str | None]:
        """Ping many upstreams at once: {gateway_id: None when alive, else the error message}."""

        async def one(target: UpstreamTarget) -> str | None:
            try:
                await self.ping(target, budget=budget)
            except CatalogError as exc:
                return exc.message
            except Exception as exc:  # a health check reports every failure, never raises
                return f"upstream {target.name} failed: {exc}"
            return None

        results = await asyncio.gather(*(one(t) for t in targets))
        return {t.gateway_id: r for t, r in zip(targets, results, strict=True)}

    async def subscribe_resource(self, target: UpstreamTarget, uri: str) -> None:
        """Be told (through listeners) when ``uri`` changes upstream: resources/subscribe on
        handshake revisions, a subscriptions/listen stream on 2026-07-28; kept across reconnects."""
        pool = self.pool()

        async def op(client: Client, seconds: float) -> None:
            conn = pool.connection(target)
            assert conn is not None
            await conn.subscribe(uri)

        await pool.run(target, op, None, idempotent=True)

    async def unsubscribe_resource(self, target: UpstreamTarget, uri: str) -> None:
        """Stop resource update notifications about ``uri``."""
        pool = self.pool()

        async def op(client: Client, seconds: float) -> None:
            conn = pool.connection(target)
            assert conn is not None
            await conn.unsubscribe(uri)

        await pool.run(target, op, None, idempotent=True)

    async def close_upstream(self, gateway_id: str) -> None:
        """Close this worker's sessions to one upstream (after it was edited or deleted)."""
        await self.pool().close_upstream(gateway_id)

    async def shutdown(self) -> None:
        """Close this loop's sessions (DELETE / terminate stdio processes)."""
        await self.pools.close_current()

    def stats(self) -> dict[str, Any]:
        """Per-upstream counters of the running loop's pool."""
        return self.pool().stats()


async def _pages(fetch: Any, attribute: str, max_pages: int) -> list[Any]:
    """Every item of a paginated list; a server that never stops paginating is cut off."""
    items: list[Any] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(max_pages):
        try:
            page = await fetch(params=types.PaginatedRequestParams(cursor=cursor))
        except MCPError as exc:
            if exc.code == types.METHOD_NOT_FOUND:
                return items
            raise
        items.extend(getattr(page, attribute))
        cursor = page.next_cursor
        if not cursor or cursor in seen:
            return items
        seen.add(cursor)
    raise CatalogError("internal", f"{attribute} listing did not end after {max_pages} pages")
