"""The MCP module's descriptor and lifecycle hooks."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from apps.protocols.registry import ModuleDescriptor, ProtocolModule

logger = logging.getLogger(__name__)

#: MCP revisions this module serves, oldest first.
SUPPORTED_REVISIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28")


#: How long shutdown waits for upstream sessions to close.
UPSTREAM_CLOSE_SECONDS = 5


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

    async def on_initialize(self) -> None:
        """Register the upstream runtime; listen for relayed cancellations and client answers."""
        from .upstream import install

        install()
        self._cancel_listener = asyncio.create_task(_relay_cancellations(), name="mcp-relay-listener")

    async def on_shutdown(self) -> None:
        """Stop the relay listener; close this worker's upstream sessions within a bound."""
        if self._cancel_listener is not None:
            self._cancel_listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cancel_listener
            self._cancel_listener = None
        from .upstream import runtime

        try:  # DELETE pooled sessions, stop stdio processes; an upstream that hangs must not hold shutdown
            await asyncio.wait_for(runtime.shutdown(), UPSTREAM_CLOSE_SECONDS)
        except TimeoutError:
            logger.warning(
                "upstream sessions not closed within %ss; leaving them to the process exit", UPSTREAM_CLOSE_SECONDS
            )


async def _relay_cancellations() -> None:
    """Act on relayed cancellations and client answers meant for work running on this worker."""
    from .inflight import RELAY_CHANNEL, inflight, pending
    from .transports.common import services

    try:
        bundle = services()
    except Exception:
        logger.exception("MCP relay disabled: the core services are not available")
        return
    while True:
        try:
            async for message in bundle.sessions.listen(RELAY_CHANNEL):
                stream_key = message.get("stream_key")
                if not isinstance(stream_key, str):
                    continue
                if message.get("kind") == "cancel" and isinstance(message.get("request_id"), (str, int)):
                    inflight.cancel(stream_key, message["request_id"])
                elif message.get("kind") == "reply" and isinstance(message.get("response"), dict):
                    pending.resolve(stream_key, message["response"])
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("MCP relay failed; listening again")
            await asyncio.sleep(1)
