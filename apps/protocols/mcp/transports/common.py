"""ASGI plumbing shared by the HTTP transports: bodies with limits, JSON and SSE replies.

Written against raw ASGI (no framework in between) because this is the hot path: one
orjson encode per reply and no per-request object churn beyond the dispatcher's own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import orjson
from django.conf import settings

from apps.protocols.embedded import core_services
from apps.protocols.registry import ProtocolModule, registry
from apps.protocols.spi import CoreServices

from ..errors import error_response

__all__ = [
    "BodyTooLarge",
    "client_ip",
    "headers_of",
    "module",
    "pipe_sse",
    "read_body",
    "send_json",
    "send_status",
    "services",
    "sse_frame",
    "use_services",
    "wait_disconnect",
]

_override: CoreServices | None = None


def use_services(bundle: CoreServices | None) -> None:
    """Serve with this SPI bundle instead of the embedded one (sidecar mode, tests); None resets."""
    global _override
    _override = bundle


def services() -> CoreServices:
    """The SPI bundle the transports serve with."""
    return _override if _override is not None else core_services()


def module() -> ProtocolModule:
    """The MCP protocol module (its ``work()`` tracks in-flight units for drain)."""
    return registry.get("mcp")


class BodyTooLarge(Exception):
    """The request body exceeds MAX_REQUEST_BYTES."""


def headers_of(scope: Mapping[str, Any]) -> dict[str, str]:
    """Request headers by lowercase name (latin-1 decoded; the last copy wins)."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}


def client_ip(scope: Mapping[str, Any]) -> str | None:
    """The peer address."""
    client = scope.get("client")
    return client[0] if client else None


async def read_body(receive, limit: int | None = None) -> bytes:
    """The whole request body; BodyTooLarge as soon as it passes ``limit`` bytes."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE if limit is None else limit
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _header_list(headers: Mapping[str, str] | None) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]


async def send_json(send, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
    """A complete JSON response."""
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *_header_list(headers),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def send_status(send, status: int, headers: Mapping[str, str] | None = None, message: str | None = None) -> None:
    """An empty response, or a JSON-RPC error body carrying ``message``."""
    if message is not None:
        await send_json(send, status, error_response(None, -32600 if status < 500 else -32603, message), headers)
        return
    await send({"type": "http.response.start", "status": status, "headers": _header_list(headers)})
    await send({"type": "http.response.body", "body": b""})


SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
]


def sse_frame(data: Any, *, event: str | None = "message", event_id: str | None = None) -> bytes:
    """One server-sent event carrying ``data`` (JSON-encoded unless already text)."""
    text = data if isinstance(data, str) else orjson.dumps(data).decode()
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event is not None:
        lines.append(f"event: {event}")
    lines.append(f"data: {text}")
    return ("\n".join(lines) + "\n\n").encode()


async def wait_disconnect(receive) -> None:
    """Return when the client disconnects (the request body must have been read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def pipe_sse(receive, send, frames, *, keepalive: float, alive, valid=None) -> None:
    """Send ``frames`` (an async iterator of SSE bytes) until it ends, the client leaves or ``alive()`` is False.

    A comment line goes out every ``keepalive`` seconds of silence so proxies keep the
    stream open; then ``valid()`` (if given) is awaited too, and a False ends the stream
    (its session was ended elsewhere). The response is always finished properly.
    """
    disconnect = asyncio.ensure_future(wait_disconnect(receive))
    iterator = frames.__aiter__()
    pending: asyncio.Future | None = None
    try:
        while alive():
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending, disconnect}, timeout=keepalive, return_when=asyncio.FIRST_COMPLETED)
            if disconnect in done:
                return
            if pending in done:
                try:
                    frame = pending.result()
                except StopAsyncIteration:
                    break
                finally:
                    pending = None
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            else:
                if valid is not None and not await valid():
                    break
                await send({"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        for task in (pending, disconnect):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
