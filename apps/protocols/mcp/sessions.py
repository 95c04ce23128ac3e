"""Stateful sessions of the handshake-era transports, kept in the shared session store.

A session record lives in the SPI session service (Redis in production), so any worker
can serve any request of a session; a session's server→client stream is a channel of
the same service, so a message produced on one worker reaches the stream held by
another. Ending a session removes its record and tells its stream to close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from django.conf import settings

from apps.protocols.spi import CoreServices, Principal

from .context import SessionState, principal_key
from .methods import CATALOG_CHANNEL, change_notification

logger = logging.getLogger(__name__)

__all__ = [
    "EventLog",
    "SessionStream",
    "create_session",
    "end_session",
    "load_session",
    "open_session_stream",
    "save_session",
    "session_channel",
]

#: Published on a session's channel to close its stream (the session ended).
END = {"cf": "end"}
_EVENT_LOG_SIZE = 200
#: How long opening a stream waits for its subscriptions to be confirmed.
_SUBSCRIBE_SECONDS = 5.0


def session_channel(session_id: str) -> str:
    """The channel carrying one session's server→client messages."""
    return f"mcp.session.{session_id}"


def _ttl() -> int:
    return settings.MCP_SESSION_TTL


async def create_session(services: CoreServices, principal: Principal, server_id: str | None) -> SessionState:
    """A new session bound to its caller and server (not stored until ``save_session``)."""
    state = SessionState(id=secrets.token_hex(16), owner=principal_key(principal), server_id=server_id)
    state.dirty = True
    return state


async def load_session(
    services: CoreServices, session_id: str, principal: Principal, server_id: str | None
) -> SessionState | None:
    """The session, if it exists and belongs to this caller and server (else None: "not found")."""
    if not session_id or len(session_id) > 64:
        return None
    record = await services.sessions.load_session(session_id)
    if record is None:
        return None
    state = SessionState.from_record(record)
    if state.owner != principal_key(principal) or state.server_id != server_id:
        return None
    if time.time() - state.touched > _ttl() / 2:
        state.dirty = True  # refresh the lifetime of a session in use
    return state


async def save_session(services: CoreServices, state: SessionState, *, force: bool = False) -> None:
    """Store the session record when it changed (or to refresh its lifetime)."""
    if state.dirty or force:
        await services.sessions.save_session(state.id, state.as_record(), _ttl())
        state.dirty = False


async def end_session(services: CoreServices, session_id: str) -> None:
    """End a session on every worker: drop the record, close its stream wherever it is held."""
    await services.sessions.end_session(session_id)
    await services.sessions.end_session(f"{session_id}.events")
    await services.sessions.publish(session_channel(session_id), END)


class SessionStream:
    """The server→client messages of a session: its own channel plus the catalog changes it follows.

    ``open()`` subscribes and returns once the subscriptions hold, so a transport opens
    the stream *before* it tells the client where to post (the SSE endpoint event, the
    GET response's headers): a reply produced on another worker right after cannot be
    lost. Iteration ends when the session is ended. Catalog changes become list_changed
    notifications (and resources/updated for the URIs the session subscribed to).
    """

    def __init__(self, services: CoreServices, state: SessionState) -> None:
        self.services = services
        self.state = state
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._tasks: list[asyncio.Task] = []

    async def open(self) -> SessionStream:
        """Subscribe to the session's channel and the catalog changes; wait (bounded) until both hold."""
        ready = [asyncio.Event(), asyncio.Event()]
        self._tasks = [
            asyncio.create_task(self._pump(session_channel(self.state.id), False, ready[0])),
            asyncio.create_task(self._pump(CATALOG_CHANNEL, True, ready[1])),
        ]
        try:
            await asyncio.wait_for(asyncio.gather(*(event.wait() for event in ready)), _SUBSCRIBE_SECONDS)
        except TimeoutError:
            logger.warning(
                "session %s: stream subscription not confirmed within %ss", self.state.id, _SUBSCRIBE_SECONDS
            )
        return self

    async def _pump(self, channel: str, catalog: bool, ready: asyncio.Event) -> None:
        while True:  # a failing channel layer (Redis restart) is listened to again, not given up
            try:
                async for message in self.services.sessions.listen(channel, ready):
                    if catalog:
                        record = await self.services.sessions.load_session(self.state.id)
                        subscribed = frozenset((record or {}).get("subscriptions") or ())
                        message = change_notification(message, lambda k, uri, s=subscribed: k != "resource" or uri in s)
                        if message is None:
                            continue
                    await self._queue.put(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("session stream listener failed; listening again")
                await asyncio.sleep(0.5)

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            message = await self._queue.get()
            if message == END:
                return
            yield message

    async def close(self) -> None:
        """Unsubscribe."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []


async def open_session_stream(services: CoreServices, state: SessionState) -> SessionStream:
    """A subscribed SessionStream for ``state`` (close it when done)."""
    return await SessionStream(services, state).open()


class EventLog:
    """The recent events of one session stream, so a client can resume with Last-Event-ID.

    Written only by the worker holding the stream (a single writer), read by whichever
    worker serves the resuming GET.
    """

    def __init__(self, services: CoreServices, session_id: str) -> None:
        self.services = services
        self.key = f"{session_id}.events"

    async def _load(self) -> dict[str, Any]:
        return await self.services.sessions.load_session(self.key) or {"next": 1, "events": []}

    async def append(self, message: dict[str, Any]) -> str:
        """Record a message; return its event id."""
        log = await self._load()
        event_id = str(log["next"])
        log["next"] += 1
        log["events"] = [*log["events"][-(_EVENT_LOG_SIZE - 1) :], [event_id, message]]
        await self.services.sessions.save_session(self.key, log, _ttl())
        return event_id

    async def after(self, last_event_id: str) -> list[tuple[str, dict[str, Any]]]:
        """The messages recorded after ``last_event_id`` (all kept ones if it is unknown)."""
        log = await self._load()
        events = [(e[0], e[1]) for e in log["events"]]
        ids = [e[0] for e in events]
        if last_event_id in ids:
            return events[ids.index(last_event_id) + 1 :]
        return events
