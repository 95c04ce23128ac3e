"""Requests from the gateway to the calling client: sampling, elicitation, roots (handshake revisions).

An upstream asks (through the runtime's ``CallOptions.request_client``); the request is
sent on the calling request's stream and the client's answer, which arrives as a
separate message of the same session, resolves it. The answer may reach another
worker: it is then relayed on ``CLIENT_RESPONSE_CHANNEL``, which every worker listens
on (``MCPModule``). A 2026-07-28 client gets no such requests (the stateless revision
uses ``input_required`` results instead).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from apps.protocols.spi import CatalogError

from .context import RequestContext

__all__ = ["CLIENT_RESPONSE_CHANNEL", "PendingClientRequests", "ask_client", "pending"]

#: Channel on which a worker passes a client's answer to the worker that asked.
CLIENT_RESPONSE_CHANNEL = "mcp.client-responses"
#: How long a client may take to answer (a person may be typing an elicitation answer).
CLIENT_REQUEST_TIMEOUT = 600.0


class PendingClientRequests:
    """Futures of this process's requests to clients, keyed by (stream, request id)."""

    def __init__(self) -> None:
        self._futures: dict[tuple[str, str], asyncio.Future] = {}

    def expect(self, stream_key: str, request_id: str) -> asyncio.Future:
        """Register a request about to be sent; its answer resolves the returned future."""
        future = asyncio.get_running_loop().create_future()
        self._futures[(stream_key, request_id)] = future
        return future

    def resolve(self, stream_key: str, request_id: Any, message: dict[str, Any]) -> bool:
        """Deliver an answer; False when no request of this process waits for it."""
        future = self._futures.get((stream_key, str(request_id)))
        if future is None or future.done():
            return False
        future.get_loop().call_soon_threadsafe(_settle, future, message)
        return True

    def forget(self, stream_key: str, request_id: str) -> None:
        """Drop a finished request."""
        self._futures.pop((stream_key, request_id), None)


def _settle(future: asyncio.Future, message: dict[str, Any]) -> None:
    if not future.done():
        future.set_result(message)


#: The process-wide registry.
pending = PendingClientRequests()


async def ask_client(context: RequestContext, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """Send ``method`` to the client on the current request's stream and wait for its result."""
    if context.send is None:
        raise CatalogError("unavailable", f"{method}: this transport cannot carry requests to the client")
    request_id = f"cf-{uuid.uuid4().hex}"
    future = pending.expect(context.stream_key, request_id)
    try:
        await context.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}})
        try:
            answer = await asyncio.wait_for(future, CLIENT_REQUEST_TIMEOUT)
        except TimeoutError:
            raise CatalogError("timeout", f"{method}: the client did not answer in time") from None
    finally:
        pending.forget(context.stream_key, request_id)
    error = answer.get("error")
    if error is not None:
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise CatalogError("internal", f"{method}: the client answered with an error: {message}")
    result = answer.get("result")
    if not isinstance(result, dict):
        raise CatalogError("internal", f"{method}: the client's answer has no result object")
    return result


async def deliver_response(context: RequestContext, message: dict[str, Any]) -> None:
    """A client's answer arrived: resolve it here, or pass it to the worker that asked."""
    request_id = message.get("id")
    if not isinstance(request_id, str) or not request_id.startswith("cf-"):
        return
    if pending.resolve(context.stream_key, request_id, message):
        return
    await context.services.sessions.publish(
        CLIENT_RESPONSE_CHANNEL, {"stream_key": context.stream_key, "id": request_id, "message": message}
    )
