"""In-flight work of this process: client requests being served, server requests awaiting answers.

These registries hold only asyncio handles (which cannot leave the process). A
cancellation of a request running on another worker, or a client's answer to a server
request issued by another worker, is relayed there through the session service's
``RELAY_CHANNEL``, which every worker listens on (see module.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["RELAY_CHANNEL", "InFlight", "Pending", "inflight", "pending"]

#: Channel every worker listens on: {"kind": "cancel"|"reply", "stream_key": ..., ...}.
RELAY_CHANNEL = "mcp.relay"


def _key(stream_key: str, request_id: Any) -> tuple[str, str]:
    return stream_key, f"{type(request_id).__name__}:{request_id}"


class InFlight:
    """Task handles of running requests, keyed by (stream, request id)."""

    def __init__(self) -> None:
        self._tasks: dict[tuple[str, str], asyncio.Task] = {}
        self.cancelled: set[int] = set()

    def add(self, stream_key: str, request_id: Any, task: asyncio.Task) -> None:
        """Register a running request."""
        self._tasks[_key(stream_key, request_id)] = task

    def discard(self, stream_key: str, request_id: Any) -> None:
        """Forget a finished request."""
        self._tasks.pop(_key(stream_key, request_id), None)

    def cancel(self, stream_key: str, request_id: Any) -> bool:
        """Cancel a running request of this process; False when it is not running here."""
        task = self._tasks.get(_key(stream_key, request_id))
        if task is None or task.done():
            return False
        self.cancelled.add(id(task))
        task.cancel()
        return True

    def was_cancelled(self, task: asyncio.Task) -> bool:
        """True when ``task`` was cancelled by a client's notifications/cancelled."""
        return id(task) in self.cancelled

    def forget(self, task: asyncio.Task) -> None:
        """Drop the cancelled mark of a finished task."""
        self.cancelled.discard(id(task))


#: The process-wide registry.
inflight = InFlight()


class Pending:
    """Server→client requests awaiting the client's answer, keyed by (stream, request id)."""

    def __init__(self) -> None:
        self._futures: dict[tuple[str, str], asyncio.Future] = {}

    def open(self, stream_key: str, request_id: str) -> asyncio.Future:
        """Register a request about to be sent; its future receives the client's response message."""
        future = asyncio.get_running_loop().create_future()
        self._futures[_key(stream_key, request_id)] = future
        return future

    def close(self, stream_key: str, request_id: str) -> None:
        """Forget a request (answered, timed out or abandoned)."""
        self._futures.pop(_key(stream_key, request_id), None)

    def resolve(self, stream_key: str, response: dict[str, Any]) -> bool:
        """Hand a client's response to the request awaiting it here; False when none is."""
        future = self._futures.get(_key(stream_key, response.get("id")))
        if future is None or future.done():
            return False
        future.set_result(response)
        return True


#: The process-wide registry of server→client requests.
pending = Pending()
