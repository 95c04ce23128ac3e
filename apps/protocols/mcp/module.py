"""The MCP module's descriptor and lifecycle hooks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from apps.protocols.registry import ModuleDescriptor, ProtocolModule

if TYPE_CHECKING:
    from apps.protocols.spi import CoreServices

    from .resume import Resumer

logger = logging.getLogger(__name__)

#: MCP revisions this module serves, oldest first.
SUPPORTED_REVISIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28")


#: How long shutdown waits for the relay listeners to stop.
LISTENER_STOP_SECONDS = 2
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
        self._listeners: list[asyncio.Task] = []
        self._resumer: Resumer | None = None

    async def on_initialize(self) -> None:
        """Register the upstream runtime; listen for relayed cancellations, client answers and resumes."""
        from .inflight import RELAY_CHANNEL
        from .resume import resumer
        from .upstream import install

        install()
        self._resumer = resumer
        self._listeners = [
            asyncio.create_task(_listen(RELAY_CHANNEL, _on_relay), name="mcp-relay-listener"),
            asyncio.create_task(
                _listen(resumer.channel, resumer.handle, resumer.ready), name="mcp-worker-channel-listener"
            ),
        ]

    async def on_shutdown(self) -> None:
        """Stop the relay listeners; close this worker's upstream sessions within a bound."""
        for listener in self._listeners:
            listener.cancel()
        if self._listeners:  # bounded: a channel-layer receive may be slow to give up
            await asyncio.wait(self._listeners, timeout=LISTENER_STOP_SECONDS)
        self._listeners = []
        if self._resumer is not None:
            await self._resumer.close()
            self._resumer = None
        from .upstream import runtime

        try:  # DELETE pooled sessions, stop stdio processes; an upstream that hangs must not hold shutdown
            await asyncio.wait_for(runtime.shutdown(), UPSTREAM_CLOSE_SECONDS)
        except TimeoutError:
            logger.warning(
                "upstream sessions not closed within %ss; leaving them to the process exit", UPSTREAM_CLOSE_SECONDS
            )


async def _listen(
    channel: str, handle: Callable[[CoreServices, dict[str, Any]], None], ready: asyncio.Event | None = None
) -> None:
    """Hand every message of ``channel`` to ``handle`` (``ready`` set once subscribed); relisten on failure."""
    from .transports.common import services

    try:
        bundle = services()
    except Exception:
        logger.exception("MCP listener of %s disabled: the core services are not available", channel)
        return
    while True:
        try:
            async for message in bundle.sessions.listen(channel, ready):
                handle(bundle, message)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("MCP listener of %s failed; listening again", channel)
            await asyncio.sleep(1)


def _on_relay(bundle: CoreServices, message: dict[str, Any]) -> None:
    """Act on a relayed cancellation or client answer meant for work running on this worker."""
    from .inflight import inflight, pending

    stream_key = message.get("stream_key")
    if not isinstance(stream_key, str):
        return
    if message.get("kind") == "cancel" and isinstance(message.get("request_id"), (str, int)):
        inflight.cancel(stream_key, message["request_id"])
    elif message.get("kind") == "reply" and isinstance(message.get("response"), dict):
        pending.resolve(stream_key, message["response"])
