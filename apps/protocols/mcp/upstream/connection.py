"""One live session to one upstream (per credential scope), owned by a supervisor task.

The supervisor opens the transport, negotiates (``server/discover`` first, else
``initialize``, by the SDK's ``mode="auto"``), then keeps the session until it is
closed or lost; a lost session (process exited, socket closed, connection errors seen
by calls) is reopened with exponential backoff. Closing ends the session the way its
transport ends one: DELETE for streamable HTTP, terminate-and-wait for stdio.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.client import Client
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

from apps.protocols.spi import CallOptions, CatalogError, UpstreamTarget

from .config import PoolConfig
from .errors import translate
from .http1 import HTTPClient
from .relay import Relay
from .transports import WireState, open_transport

logger = logging.getLogger(__name__)

__all__ = ["EventSink", "UpstreamConnection"]

#: Receives upstream notifications that are not tied to a request: (gateway_id, method, params).
EventSink = Callable[[str, str, dict[str, Any]], Any]

#: Upstream notifications passed to ``on_event`` (not tied to one request).
EVENT_METHODS = frozenset(
    {
        "notifications/tools/list_changed",
        "notifications/resources/list_changed",
        "notifications/prompts/list_changed",
        "notifications/resources/updated",
    }
)

CLIENT_INFO = types.Implementation(name="contextforge-gateway", version="0.1.0")


class UpstreamConnection:
    """A pooled session: shared by every caller of one (upstream, credential scope) in this worker."""

    def __init__(self, target: UpstreamTarget, key: str, config: PoolConfig, on_event: EventSink | None = None) -> None:
        self.target = target
        self.key = key
        self.config = config
        self.name = target.name
        self.on_event = on_event
        self.client: Client | None = None
        self.state = "new"  # new | connecting | ready | restarting | closed
        self.error: BaseException | None = None
        self.initializations = 0
        self.in_flight = 0
        self.last_used = time.monotonic()
        self.last_ping: float = time.monotonic()
        self._ready = asyncio.Event()
        self._settled = asyncio.Event()  # first connect attempt finished (ready or failed)
        self._closing = asyncio.Event()
        self._lost = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._interactive: list[CallOptions] = []
        self.subscriptions: set[str] = set()
        self._listen_task: asyncio.Task | None = None
        self.relay = Relay(target.name, self._sole_interactive_call)
        # The lean tools/call path (direct.py): its HTTP client, what the handshake told it, counters.
        self.wire = WireState()
        self.http: HTTPClient | None = None
        self.lean_refused = False  # this upstream's URL cannot take the lean path
        self.upstream_asked = False  # the upstream sent a server→client request: calls take the SDK path
        self.lean_calls = 0
        self.sdk_calls = 0
        self._lean_id = 0
        self._background: set[asyncio.Task] = set()

    # --- lifecycle ------------------------------------------------------------

    async def open(self) -> None:
        """Start the supervisor and wait for the first session (CatalogError if it fails)."""
        if self._task is None:
            # A fresh context: the supervisor must not inherit the first caller's call state.
            self._task = asyncio.get_running_loop().create_task(self._supervise(), context=contextvars.Context())
        try:
            async with asyncio.timeout(self.config.connect_timeout):
                await self._settled.wait()
        except TimeoutError:
            await self.close()
            raise CatalogError(
                "unavailable",
                f"upstream {self.name} did not complete the MCP handshake within {self.config.connect_timeout:g}s",
                {"upstream": self.name},
            ) from None
        if not self._ready.is_set():
            error = self.error
            await self.close()
            raise translate(error or ConnectionError("connection closed"), self.name)

    async def _supervise(self) -> None:
        attempt = 0
        while not self._closing.is_set():
            ended = anyio.Event()
            self.state = "connecting" if self.initializations == 0 else "restarting"
            self.wire = WireState()
            try:
                client = Client(
                    open_transport(
                        self.target,
                        instance_id=self.config.instance_id,
                        connect_timeout=self.config.connect_timeout,
                        ended=ended,
                        wire=self.wire,
                    ),
                    mode=connect_mode(self.target.protocol_version),
                    cache=None,
                    client_info=CLIENT_INFO,
                    sampling_callback=self.relay.sampling,
                    elicitation_callback=self.relay.elicitation,
                    list_roots_callback=self.relay.list_roots,
                    logging_callback=self.relay.logging,
                    log_level="debug",
                    message_handler=self._on_message,
                )
                async with client:
                    self.client = client
                    self.initializations += 1
                    self.error = None
                    attempt = 0
                    self._lost.clear()
                    self.state = "ready"
                    self._ready.set()
                    self._settled.set()
                    logger.info(
                        "upstream %s: session open (%s, revision %s)",
                        self.name,
                        self.target.transport,
                        client.protocol_version,
                    )
                    self._after_open(client)
                    try:
                        await _first_of(self._closing.wait(), self._lost.wait(), ended.wait())
                    finally:
                        await self._stop_listening()
            except Exception as exc:
                self.error = exc
                logger.warning("upstream %s: session failed: %s", self.name, exc)
            finally:
                self.client = None
                self._ready.clear()
            if self._closing.is_set() or not self._settled.is_set():
                break
            self._settled.set()
            attempt += 1
            delay = min(self.config.retry_backoff * (2 ** (attempt - 1)), self.config.restart_backoff_max)
            logger.info("upstream %s: session lost; reconnecting in %.2fs", self.name, delay)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._closing.wait()
        self.state = "closed"
        self._settled.set()

    # --- change notifications ---------------------------------------------------------

    @property
    def modern(self) -> bool:
        """True when the open session speaks a stateless (2026-07-28+) revision."""
        return self.protocol_version in MODERN_PROTOCOL_VERSIONS

    def _after_open(self, client: Client) -> None:
        """Ask for change notifications: a listen stream (2026-07-28) or re-subscribed resources."""
        if self.modern:
            self._start_listening(client)
        elif self.subscriptions:
            uris = sorted(self.subscriptions)
            self._listen_task = asyncio.get_running_loop().create_task(
                self._resubscribe(client, uris), context=contextvars.Context()
            )

    async def _resubscribe(self, client: Client, uris: list[str]) -> None:
        for uri in uris:
            try:
                await client.session.subscribe_resource(uri)
            except Exception as exc:
                logger.warning("upstream %s: re-subscribing to %s failed: %s", self.name, uri, exc)

    def _start_listening(self, client: Client) -> None:
        if self._listen_task is not None:
            self._listen_task.cancel()
        uris = sorted(self.subscriptions)
        self._listen_task = asyncio.get_running_loop().create_task(
            self._listen(client, uris), context=contextvars.Context()
        )

    async def _listen(self, client: Client, uris: list[str]) -> None:
        """Hold a subscriptions/listen stream; its events reach ``on_event`` through the message handler."""
        try:
            async with client.listen(
                tools_list_changed=True,
                prompts_list_changed=True,
                resources_list_changed=True,
                resource_subscriptions=uris,
            ) as subscription:
                async for _event in subscription:
                    pass
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.info("upstream %s: change notifications unavailable: %s", self.name, exc)

    async def _stop_listening(self) -> None:
        task, self._listen_task = self._listen_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def subscribe(self, uri: str) -> None:
        """Receive notifications/resources/updated for ``uri`` (kept across reconnects)."""
        self.subscriptions.add(uri)
        client = self.client
        if client is None:
            return
        if self.modern:
            self._start_listening(client)
        else:
            await client.session.subscribe_resource(uri)

    async def unsubscribe(self, uri: str) -> None:
        """Stop notifications about ``uri``."""
        self.subscriptions.discard(uri)
        client = self.client
        if client is None:
            return
        if self.modern:
            self._start_listening(client)
        else:
            await client.session.unsubscribe_resource(uri)

    async def close(self) -> None:
        """End the session (DELETE / terminate the process) and stop supervising."""
        self._closing.set()
        if self.http is not None:
            self.http.close()
        task = self._task
        if task is not None and not task.done():
            try:
                async with asyncio.timeout(10):
                    await asyncio.shield(task)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self.state = "closed"

    def mark_lost(self, reason: BaseException) -> None:
        """A call saw the transport fail: drop the session so the supervisor reopens it."""
        if self.state == "ready":
            logger.warning("upstream %s: connection lost: %s", self.name, reason)
            self.error = reason
            self._lost.set()

    @property
    def closed(self) -> bool:
        """True once closed for good (the pool makes a new connection)."""
        return self.state == "closed" or self._closing.is_set()

    # --- use ------------------------------------------------------------------

    async def session_client(self, wait: float) -> Client:
        """The live client, waiting up to ``wait`` seconds while a lost session is being reopened."""
        if self.closed:
            raise CatalogError("unavailable", f"upstream {self.name} connection is closed", {"upstream": self.name})
        if not self._ready.is_set() and self.state == "restarting" and self.error is not None:
            raise translate(self.error, self.name)
        async with asyncio.timeout(wait):
            await self._ready.wait()
        client = self.client
        if client is None:
            raise CatalogError("unavailable", f"upstream {self.name} connection is closed", {"upstream": self.name})
        return client

    def _sole_interactive_call(self) -> CallOptions | None:
        """The one in-flight call that can answer upstream requests, when there is exactly one."""
        return self._interactive[0] if len(self._interactive) == 1 else None

    @contextlib.asynccontextmanager
    async def interaction(self, options: CallOptions) -> AsyncIterator[None]:
        """Track calls that can answer upstream requests (sampling, elicitation, roots) and logs.

        Streamable HTTP routes an upstream request made on a call's own stream by context.
        One made on a shared stream (the session's GET stream; every request on SSE,
        WebSocket and stdio) goes to the single interactive call in flight; with several
        in flight it is refused with a clear error rather than guessed (calls are not
        serialized for it: that would throttle every caller of the upstream).
        """
        interactive = options.request_client is not None or options.on_log is not None
        if not interactive:
            yield
            return
        self._interactive.append(options)
        try:
            yield
        finally:
            self._interactive.remove(options)

    @property
    def protocol_version(self) -> str | None:
        """The negotiated revision, while a session is open."""
        client = self.client
        return client.protocol_version if client is not None else None

    async def ping(self, wait: float) -> None:
        """Liveness on the pooled session: ping (handshake revisions) or discover (2026-07-28)."""
        client = await self.session_client(wait)
        async with asyncio.timeout(wait):
            if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
                await client.session.send_discover(client.protocol_version)
            else:
                await client.session.send_ping()
        self.last_ping = time.monotonic()

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, Exception):
            logger.debug("upstream %s: transport error: %s", self.name, message)
            return
        root = getattr(message, "root", message)
        method = getattr(root, "method", None)
        if method not in EVENT_METHODS or self.on_event is None:
            return  # log messages and progress reach the calling request through the relay
        params = getattr(root, "params", None)
        payload = params.model_dump(by_alias=True, mode="json", exclude_none=True) if params is not None else {}
        await self.deliver_event(method, payload)

    async def deliver_event(self, method: str, payload: dict[str, Any]) -> None:
        """Pass a change notification (list_changed, resources/updated) to ``on_event``; others are ignored."""
        if method not in EVENT_METHODS or self.on_event is None:
            return
        payload = {k: v for k, v in payload.items() if k != "_meta"}  # session plumbing, not the event
        try:
            result = self.on_event(self.target.gateway_id, method, payload)
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            logger.exception("upstream %s: event handler for %s failed", self.name, method)

    def next_lean_id(self) -> int:
        """A request id for the lean path when the SDK's counter is out of reach."""
        self._lean_id += 1
        return 1_000_000_000 + self._lean_id

    def spawn(self, coroutine: Any) -> None:
        """Run a short best-effort coroutine (e.g. a courtesy cancel) detached from the calling request."""
        task = asyncio.get_running_loop().create_task(coroutine, context=contextvars.Context())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def stats(self) -> dict[str, Any]:
        """Counters for health pages (``lean_calls``/``sdk_calls``: which path tool calls took)."""
        http = self.http
        return {
            "state": self.state,
            "in_flight": self.in_flight,
            "initializations": self.initializations,
            "protocol_version": self.protocol_version,
            "idle_seconds": round(time.monotonic() - self.last_used, 1),
            "lean_calls": self.lean_calls,
            "sdk_calls": self.sdk_calls,
            "http_connections": http.connects if http is not None else 0,
        }


def connect_mode(pinned: str | None) -> str:
    """How to negotiate: "auto" (server/discover, else initialize) unless a handshake revision is pinned.

    A handshake-era revision (2024-11-05 … 2025-11-25, e.g. the one stored when the upstream
    was registered) means "use initialize": the client offers its newest handshake revision
    and the upstream picks what it supports. A stateless revision still probes with
    server/discover, which returns the capabilities the session needs.
    """
    if not pinned or pinned in MODERN_PROTOCOL_VERSIONS:
        return "auto"
    if pinned in HANDSHAKE_PROTOCOL_VERSIONS:
        return "legacy"
    raise CatalogError("invalid_arguments", f"protocol_version: {pinned!r} is not a known MCP revision")


async def _first_of(*aws: Any) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
