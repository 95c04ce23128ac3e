"""stdio: serve one virtual server over newline-delimited JSON-RPC on stdin/stdout.

Desktop clients spawn ``manage.py mcp_stdio --server <id> --token T`` and talk to it
directly. The token is checked like a bearer token on HTTP; requests run concurrently
so notifications/cancelled can stop one; stdout carries protocol messages only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from django.conf import settings

from apps.protocols.spi import CoreServices

from .auth import authenticate, server_visible
from .context import RequestContext, SessionState, principal_key
from .dispatcher import handle_bytes
from .errors import INVALID_REQUEST, error_response
from .transports.common import services as default_services

logger = logging.getLogger(__name__)

__all__ = ["run_stdio", "serve_stdio"]


async def serve_stdio(
    reader: asyncio.StreamReader,
    write: Callable[[bytes], Awaitable[None]],
    *,
    server_id: str,
    token: str | None,
    services: CoreServices | None = None,
) -> None:
    """Serve messages read from ``reader`` until EOF, writing replies with ``write``.

    Raises ``auth.Denied`` when the token is missing or invalid, or the server is not
    visible to its holder.
    """
    svc = services or default_services()
    principal = await authenticate(svc, {}, scheme="stdio", server_id=server_id, client_ip=None, token=token)
    server = await server_visible(svc, principal, server_id)
    lock = asyncio.Lock()

    async def emit(message: dict[str, Any]) -> None:
        async with lock:
            await write(orjson.dumps(message) + b"\n")

    session = SessionState(id=f"stdio-{secrets.token_hex(8)}", owner=principal_key(principal), server_id=server_id)
    context = RequestContext(
        services=svc,
        principal=principal,
        server_id=server_id,
        transport="stdio",
        session=session,
        send=emit,
        stream_key=session.id,
        server_name=server.name,
    )
    tasks: set[asyncio.Task] = set()

    async def run(line: bytes) -> None:
        try:
            response = await handle_bytes(context, line)
        except Exception:
            logger.exception("stdio message handling failed")
            return
        if response is not None:
            await emit(response)

    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        while True:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as exc:
                line = exc.partial
                if not line.strip():
                    break
            except asyncio.LimitOverrunError:
                await emit(error_response(None, INVALID_REQUEST, "Message too large"))
                # Skip the rest of the oversized line.
                with contextlib.suppress(asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    while True:
                        chunk = await reader.read(65536)
                        if not chunk or b"\n" in chunk:
                            break
                continue
            if len(line) > limit:
                await emit(error_response(None, INVALID_REQUEST, "Message too large"))
                continue
            if not line.strip():
                continue
            task = asyncio.create_task(run(line))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for task in tasks:
            task.cancel()


async def run_stdio(server_id: str, token: str | None) -> None:
    """Serve the process's own stdin/stdout."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout.buffer

    async def write(data: bytes) -> None:
        out.write(data)
        out.flush()

    await serve_stdio(reader, write, server_id=server_id, token=token)
