"""In-flight requests of this process, so ``notifications/cancelled`` can stop one.

This registry holds only asyncio task handles (which cannot leave the process); a
cancellation for a request running on another worker is relayed there through the
session service's channel (``CANCEL_CHANNEL``), which every worker listens on.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["CANCEL_CHANNEL", "InFlight", "inflight"]

#: Channel every worker listens on for cancellations of requests it may be running.
CANCEL_CHANNEL = "mcp.cancel"


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
