"""A session stream is subscribed when open() returns: nothing published after that is lost."""

from __future__ import annotations

import asyncio

import pytest

from apps.protocols.embedded.sessions import EmbeddedSessionService
from apps.protocols.mcp.context import SessionState
from apps.protocols.mcp.sessions import END, SessionStream, session_channel


class _Bundle:
    """Just the sessions family, which is all a SessionStream uses."""

    def __init__(self) -> None:
        self.sessions = EmbeddedSessionService()


@pytest.mark.django_db
async def test_message_published_right_after_open_is_delivered():
    bundle = _Bundle()
    state = SessionState(id="stream-test-session", owner="anonymous")
    stream = await SessionStream(bundle, state).open()
    try:
        # No yield to the event loop between open() and publish: the subscription must already hold.
        await bundle.sessions.publish(session_channel(state.id), {"jsonrpc": "2.0", "id": 1, "result": {}})
        await bundle.sessions.publish(session_channel(state.id), END)
        received = [message async for message in stream]
    finally:
        await stream.close()
    assert received == [{"jsonrpc": "2.0", "id": 1, "result": {}}]


@pytest.mark.django_db
async def test_listen_signals_ready_once_subscribed():
    sessions = EmbeddedSessionService()
    ready = asyncio.Event()
    listener = sessions.listen("ready-test", ready)
    first = asyncio.ensure_future(listener.__anext__())
    await asyncio.wait_for(ready.wait(), 5)
    await sessions.publish("ready-test", {"n": 1})
    assert await asyncio.wait_for(first, 5) == {"n": 1}
    await listener.aclose()
