"""The MCP module's descriptor and lifecycle hooks."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from apps.protocols.registry import ModuleDescriptor, ProtocolModule

logger = logging.getLogger(__name__)

#: MCP revisions this module serves, oldest first.
SUPPORTED_REVISIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28")


class MCPModule(ProtocolModule):
    """Serves the catalog over MCP and reaches MCP upstreams."""

    descriptor = ModuleDescriptor(
        id="mcp",
        family="mcp",
        version="0.1.0",
        capabilities={
            "revisions": list(SUPPORTED_REVISIONS),
            "transports": ["streamable-http", "sse", "websocket", "stdio"],
        },
    )

    def __init__(self) -> None:
        super().__init__()
        self._cancel_listener: asyncio.Task | None = None
        self._answer_listener: asyncio.Task | None = None

    async def on_initialize(self) -> None:
        """Register the upstream runtime; listen for cancellations of requests running on this worker."""
        from .upstream import install

        install()
        self._cancel_listener = asyncio.create_task(_relay_cancellations(), name="mcp-cancel-listener")
        self._answer_listener = asyncio.create_task(_relay_client_answers(), name="mcp-client-answers")

    async def on_shutdown(self) -> None:
        """Stop the listeners; close this worker's upstream sessions."""
        if self._answer_listener is not None:
            self._answer_listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._answer_listener
            self._answer_listener = None
        if self._cancel_listener is not None:
            self._cancel_listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cancel_listener
            self._cancel_listener = None
        from .upstream import runtime

        await runtime.shutdown()  # this worker's upstream sessions: DELETE, stdio processes stopped


async def _relay_cancellations() -> None:
    """Cancel local in-flight requests named on the shared cancellation channel (sent by any worker)."""
    from .inflight import CANCEL_CHANNEL, inflight
    from .transports.common import services

    try:
        bundle = services()
    except Exception:
        logger.exception("MCP cancellation relay disabled: the core services are not available")
        return
    while True:
        try:
            async for message in bundle.sessions.listen(CANCEL_CHANNEL):
                stream_key, request_id = message.get("stream_key"), message.get("request_id")
                if isinstance(stream_key, str) and isinstance(request_id, (str, int)):
                    inflight.cancel(stream_key, request_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("MCP cancellation relay failed; listening again")
            await asyncio.sleep(1)


async def _relay_client_answers() -> None:
    """Resolve local requests to clients whose answers reached another worker."""
    from .client_requests import CLIENT_RESPONSE_CHANNEL, pending
    from .transports.common import services

    try:
        bundle = services()
    except Exception:
        logger.exception("MCP client-answer relay disabled: the core services are not available")
        return
    while True:
        try:
            async for message in bundle.sessions.listen(CLIENT_RESPONSE_CHANNEL):
                stream_key, request_id, answer = message.get("stream_key"), message.get("id"), message.get("message")
                if isinstance(stream_key, str) and isinstance(request_id, str) and isinstance(answer, dict):
                    pending.resolve(stream_key, request_id, answer)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("MCP client-answer relay failed; listening again")
            await asyncio.sleep(1)
