"""WebSocket at /ws and /servers/<id>/ws: subprotocol "mcp", one JSON-RPC message per frame.

A connection is one session: requests run concurrently (so notifications/cancelled can
stop one), replies and notifications go back on the same socket, and the catalog
changes the session follows arrive as list_changed / resources/updated notifications.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from django.conf import settings

from apps.protocols.registry import ModuleDraining

from ..auth import Denied, authenticate, server_visible
from ..context import RequestContext
from ..dispatcher import handle_bytes
from ..errors import INVALID_REQUEST, error_response
from ..security import origin_allowed
from ..sessions import create_session, end_session, open_session_stream, save_session
from .common import client_ip, headers_of, module, services

logger = logging.getLogger(__name__)

__all__ = ["WebSocketEndpoint"]

SUBPROTOCOL = "mcp"


class WebSocketEndpoint:
    """The WebSocket transport (raw ASGI)."""

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        headers = headers_of(scope)
        if not origin_allowed(headers) or not module().accepting():
            await send({"type": "websocket.close", "code": 1008})
            return
        server_id = scope.get("url_route", {}).get("kwargs", {}).get("server_id")
        svc = services()
        try:
            principal = await authenticate(
                svc,
                headers,
                scheme="wss" if scope.get("scheme") == "wss" else "ws",
                server_id=server_id,
                client_ip=client_ip(scope),
            )
            server = await server_visible(svc, principal, server_id) if server_id else None
        except Denied:
            await send({"type": "websocket.close", "code": 1008})
            return
        accept: dict[str, Any] = {"type": "websocket.accept"}
        if SUBPROTOCOL in scope.get("subprotocols", ()):
            accept["subprotocol"] = SUBPROTOCOL
        await send(accept)
        session = await create_session(svc, principal, server_id)
        await save_session(svc, session)
        lock = asyncio.Lock()

        async def emit(message: dict[str, Any]) -> None:
            async with lock:
                await send({"type": "websocket.send", "text": orjson.dumps(message).decode()})

        context = RequestContext(
            services=svc,
            principal=principal,
            server_id=server_id,
            transport="websocket",
            session=session,
            send=emit,
            stream_key=session.id,
            server_name=server.name if server else None,
            caller_headers=headers,
        )
        tasks: set[asyncio.Task] = set()

        stream = await open_session_stream(svc, session)  # subscribed before the first frame is read

        async def forward_changes() -> None:
            async for message in stream:
                await emit(message)

        async def run(frame: bytes | str) -> None:
            try:
                async with module().work():
                    response = await handle_bytes(context, frame)
                    await save_session(svc, session)
                if response is not None:
                    await emit(response)
            except ModuleDraining:
                await emit(error_response(None, INVALID_REQUEST, "The gateway is shutting down"))
            except Exception:
                logger.exception("WebSocket message handling failed")

        changes = asyncio.create_task(forward_changes())
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            while True:
                event = await receive()
                if event["type"] == "websocket.disconnect":
                    break
                frame = event.get("text")
                if frame is None:
                    frame = event.get("bytes") or b""
                if len(frame) > limit:
                    await emit(error_response(None, INVALID_REQUEST, "Message too large"))
                    continue
                task = asyncio.create_task(run(frame))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            for task in (*tasks, changes):
                task.cancel()
            for task in (*tasks, changes):
                with contextlib.suppress(BaseException):
                    await task
            await stream.close()
            await end_session(svc, session.id)
