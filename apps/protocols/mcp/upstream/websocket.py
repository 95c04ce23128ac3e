"""MCP over WebSocket (client side), one JSON-RPC message per text frame, subprotocol ``mcp``.

Hand-written because the official SDK removed its WebSocket client; built on the
``websockets`` package, which does the framing, handshake, ping/pong and size limits.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from mcp.client._transport import TransportStreams
from mcp.shared.message import SessionMessage
from mcp_types import jsonrpc_message_adapter
from pydantic import ValidationError
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

logger = logging.getLogger(__name__)

__all__ = ["websocket_client"]

#: Largest frame accepted from an upstream (bytes).
MAX_FRAME_BYTES = 4 * 1024 * 1024


@asynccontextmanager
async def websocket_client(
    url: str, *, headers: dict[str, str] | None = None, open_timeout: float = 15.0
) -> AsyncIterator[TransportStreams]:
    """Connect to an MCP server over WebSocket and yield (read stream, write stream)."""
    async with connect(
        url,
        subprotocols=["mcp"],
        additional_headers=headers or {},
        open_timeout=open_timeout,
        max_size=MAX_FRAME_BYTES,
        ping_interval=20,
        ping_timeout=20,
    ) as ws:
        read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)

        async def reader() -> None:
            async with read_writer:
                try:
                    async for frame in ws:
                        try:
                            message = jsonrpc_message_adapter.validate_json(frame, by_name=False)
                        except ValidationError as exc:
                            await read_writer.send(exc)
                            continue
                        await read_writer.send(SessionMessage(message))
                except ConnectionClosed:
                    logger.info("websocket upstream %s closed the connection", url)

        async def writer() -> None:
            async with write_reader:
                try:
                    async for item in write_reader:
                        await ws.send(item.message.model_dump_json(by_alias=True, exclude_unset=True))
                except ConnectionClosed:
                    await read_writer.aclose()

        async with anyio.create_task_group() as tg:
            tg.start_soon(reader)
            tg.start_soon(writer)
            try:
                yield read_stream, write_stream
            finally:
                tg.cancel_scope.cancel()
                await ws.close()
