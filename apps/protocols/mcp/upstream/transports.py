"""Opening a transport to an upstream: streamable HTTP, SSE, WebSocket or a stdio subprocess.

Each opener is an async context manager yielding the SDK's (read stream, write stream)
pair; the read stream is wrapped so the owning connection learns when the transport ends
(process exited, socket closed) and can restart it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import anyio
import httpx2
from mcp.client._transport import TransportStreams
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from apps.protocols.spi import CatalogError, UpstreamTarget

from .oauth import oauth_auth
from .websocket import websocket_client

logger = logging.getLogger(__name__)
stderr_logger = logging.getLogger("contextforge.upstream.stderr")

__all__ = [
    "TRANSPORTS",
    "VIA_HEADER",
    "WatchedReadStream",
    "WireState",
    "normalize_transport",
    "open_transport",
    "with_query",
]

TRANSPORTS = ("STREAMABLEHTTP", "SSE", "WEBSOCKET", "STDIO")
#: Header naming the gateway instance a connection comes from (a peer sees it on every request).
VIA_HEADER = "X-ContextForge-Via"
#: Read timeout of long-lived HTTP streams (SSE, streamable HTTP GET).
STREAM_READ_TIMEOUT = 300.0


def normalize_transport(value: str) -> str:
    """Canonical transport name: STREAMABLEHTTP, SSE, WEBSOCKET or STDIO (ValueError otherwise)."""
    name = value.upper().replace("-", "").replace("_", "")
    if name == "HTTP":
        name = "STREAMABLEHTTP"
    if name == "WS":
        name = "WEBSOCKET"
    if name not in TRANSPORTS:
        raise ValueError(f"transport: {value!r} is not one of {', '.join(TRANSPORTS)}")
    return name


def with_query(url: str, params: dict[str, str]) -> str:
    """``url`` with the target's extra query parameters appended."""
    if not params:
        return url
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


class WireState:
    """What the SDK's streamable-HTTP transport learned at the handshake, for the lean call path.

    ``initialized`` turns true when the upstream answered ``initialize`` (then ``session_id``
    is its ``Mcp-Session-Id``, or None for a server without sessions). One per opened transport.
    """

    def __init__(self) -> None:
        self.initialized = False
        self.session_id: str | None = None

    async def observe(self, response: httpx2.Response) -> None:
        """httpx2 response hook: note the session id the SDK takes from the initialize answer."""
        request = response.request
        if self.initialized or request.method != "POST" or not 200 <= response.status_code < 300:
            return
        try:
            content = request.content
        except httpx2.RequestNotRead:
            return
        if b'"method":"initialize"' not in content.replace(b" ", b""):
            return
        self.session_id = response.headers.get("mcp-session-id") or None
        self.initialized = True


class WatchedReadStream:
    """A read stream that sets ``ended`` when the transport stops delivering messages."""

    def __init__(self, inner: Any, ended: anyio.Event) -> None:
        self._inner = inner
        self.ended = ended

    @property
    def last_context(self) -> Any:
        """The sender's context of the last item (streamable HTTP routes per request)."""
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        """Next message; marks the stream ended on end-of-stream."""
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self.ended.set()
            raise

    async def aclose(self) -> None:
        """Close the inner stream."""
        self.ended.set()
        await self._inner.aclose()

    def __aiter__(self) -> WatchedReadStream:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    async def __aenter__(self) -> WatchedReadStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class _StderrPump:
    """Copies a child's stderr into the log, line by line, on a daemon thread."""

    def __init__(self, name: str) -> None:
        read_fd, write_fd = os.pipe()
        self._reader = os.fdopen(read_fd, "r", encoding="utf-8", errors="replace")
        self.writer = os.fdopen(write_fd, "w")
        self._thread = threading.Thread(target=self._pump, args=(name,), name=f"stderr:{name}", daemon=True)
        self._thread.start()

    def _pump(self, name: str) -> None:
        with self._reader:
            for line in self._reader:
                stderr_logger.info("[%s] %s", name, line.rstrip()[:4000])

    def close(self) -> None:
        """Close our end; the thread ends when the child's copy closes too (it exited)."""
        self.writer.close()


@asynccontextmanager
async def _stdio(target: UpstreamTarget) -> AsyncIterator[TransportStreams]:
    if not target.command:
        raise ValueError(f"upstream {target.name}: a STDIO upstream needs a command")
    params = StdioServerParameters(command=target.command, args=list(target.args), env=dict(target.env) or None)
    pump = _StderrPump(target.name)
    try:
        async with stdio_client(params, errlog=pump.writer) as streams:
            yield streams
    finally:
        pump.close()


@asynccontextmanager
async def _streamable_http(
    target: UpstreamTarget,
    headers: dict[str, str],
    connect_timeout: float,
    auth: httpx2.Auth | None,
    wire: WireState | None,
) -> AsyncIterator[TransportStreams]:
    client = create_mcp_http_client(
        headers=headers, timeout=httpx2.Timeout(connect_timeout, read=STREAM_READ_TIMEOUT), auth=auth
    )
    if wire is not None:
        client.event_hooks["response"].append(wire.observe)
    async with (
        client,
        streamable_http_client(
            with_query(target.url or "", target.query_params), http_client=client, terminate_on_close=True
        ) as streams,
    ):
        yield streams


def _opener(
    target: UpstreamTarget, *, instance_id: str, connect_timeout: float, wire: WireState | None
) -> AbstractAsyncContextManager:
    transport = normalize_transport(target.transport)
    if transport == "STDIO":
        return _stdio(target)
    if not target.url:
        raise ValueError(f"upstream {target.name}: a {transport} upstream needs a url")
    headers = {**target.headers, VIA_HEADER: instance_id}
    auth = oauth_auth(target)
    if transport == "STREAMABLEHTTP":
        return _streamable_http(target, headers, connect_timeout, auth, wire)
    if transport == "SSE":
        return sse_client(
            with_query(target.url, target.query_params),
            headers=headers,
            timeout=connect_timeout,
            sse_read_timeout=STREAM_READ_TIMEOUT,
            auth=auth,
        )
    if auth is not None:
        raise CatalogError("invalid_arguments", f"upstream {target.name}: OAuth is supported over HTTP transports")
    return websocket_client(with_query(target.url, target.query_params), headers=headers, open_timeout=connect_timeout)


@asynccontextmanager
async def open_transport(
    target: UpstreamTarget,
    *,
    instance_id: str,
    connect_timeout: float,
    ended: anyio.Event,
    wire: WireState | None = None,
) -> AsyncIterator[TransportStreams]:
    """Open the target's transport; ``ended`` is set when its read side stops (``wire`` learns the session id)."""
    opener = _opener(target, instance_id=instance_id, connect_timeout=connect_timeout, wire=wire)
    async with opener as (read, write):
        yield WatchedReadStream(read, ended), write
