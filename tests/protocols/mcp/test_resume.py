"""Resuming suspended calls across workers, in one process: two registries stand for two workers.

The relay goes through the real session service (the in-memory channel layer in the
embedded shape, Redis when REDIS_URL is set), exactly as between worker processes;
tests/protocols/mcp/upstream/test_resume_workers.py proves it between real gateways.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from types import SimpleNamespace

import pytest
from channels.layers import channel_layers

from apps.protocols.embedded.sessions import EmbeddedSessionService
from apps.protocols.mcp.errors import INVALID_PARAMS, RpcError
from apps.protocols.mcp.resume import Resumer
from apps.protocols.mcp.suspended import UNKNOWN_STATE, Registry, SuspendedCall, worker_of

OWNER = "alice|s1|tool"


async def _asks_twice(call: SuspendedCall) -> dict:
    first = await call.request_client("sampling/createMessage", {"messages": []})
    second = await call.request_client("elicitation/create", {"message": "name?"})
    return {"content": [{"type": "text", "text": f"{first['content']['text']} {second['content']['name']}"}]}


@pytest.fixture
async def workers(settings):
    """Workers A and B, each listening on its worker channel, sharing one session service."""
    settings.MCP_RESUME_ACK_TIMEOUT = 0.5
    channel_layers.backends.clear()  # a channels-redis layer serves one event loop: this test's
    services = SimpleNamespace(sessions=EmbeddedSessionService())
    a, b = Resumer(Registry()), Resumer(Registry())
    a.registry._worker, b.registry._worker = "a" * 16, "b" * 16  # one process plays both workers
    a.registry._pid = b.registry._pid = os.getpid()

    async def serve(worker: Resumer) -> None:
        async for message in services.sessions.listen(worker.channel, worker.ready):
            worker.handle(services, message)

    listeners = [asyncio.create_task(serve(a)), asyncio.create_task(serve(b))]
    await asyncio.wait_for(asyncio.gather(a.ready.wait(), b.ready.wait()), 5)
    yield services, a, b
    for listener in listeners:
        listener.cancel()
    await asyncio.wait(listeners, timeout=2)
    await a.close()
    await b.close()
    assert a.waiting == b.waiting == 0  # no relay is left waiting


async def test_rounds_started_on_a_are_resumed_from_b(workers) -> None:
    services, a, b = workers
    first = await a.registry.advance(a.registry.start(OWNER, _asks_twice))
    state = first["requestState"]
    assert worker_of(state) == a.registry.worker and first["inputRequests"]["r1"]["method"] == "sampling/createMessage"
    second = await b.resume(services, state, OWNER, {"r1": {"content": {"text": "hi"}}})
    assert second["resultType"] == "input_required" and second["requestState"] == state
    assert second["inputRequests"] == {"r2": {"method": "elicitation/create", "params": {"message": "name?"}}}
    done = await b.resume(services, state, OWNER, {"r2": {"content": {"name": "ada"}}})
    assert done == {"content": [{"type": "text", "text": "hi ada"}]}
    assert a.registry.get(state, OWNER) is None  # collected: the state is spent
    with pytest.raises(RpcError, match="unknown, finished or expired"):
        await b.resume(services, state, OWNER, {})


async def test_another_caller_is_refused_and_changes_nothing(workers) -> None:
    services, a, b = workers
    state = (await a.registry.advance(a.registry.start(OWNER, _asks_twice)))["requestState"]
    started = time.monotonic()
    with pytest.raises(RpcError) as refused:
        await b.resume(services, state, "mallory|s1|tool", {"r1": {"content": {"text": "evil"}}})
    assert refused.value.code == INVALID_PARAMS and refused.value.message == UNKNOWN_STATE
    assert time.monotonic() - started < 0.5  # answered by A at once, not by the timeout
    second = await b.resume(services, state, OWNER, {"r1": {"content": {"text": "good"}}})
    assert second["resultType"] == "input_required"
    a.registry.get(state, OWNER).task.cancel()


async def test_a_forged_state_is_refused(workers) -> None:
    services, a, b = workers
    for forged in ("nope", f"{a.registry.worker}.short", "x" * 49):
        with pytest.raises(RpcError, match="unknown, finished or expired"):
            await b.resume(services, forged, OWNER, {})
    with pytest.raises(RpcError, match="unknown, finished or expired"):  # A's id, a guessed secret
        await b.resume(services, f"{a.registry.worker}.{'A' * 32}", OWNER, {})


async def test_a_worker_that_is_gone_gives_a_bounded_error_and_leaks_nothing(workers) -> None:
    services, _a, b = workers
    gone = f"{'c' * 16}.{'A' * 32}"
    started = time.monotonic()
    with pytest.raises(RpcError) as expired:
        await b.resume(services, gone, OWNER, {})
    assert 0.5 <= time.monotonic() - started < 2
    assert expired.value.code == INVALID_PARAMS
    assert "did not answer within 0.5s" in expired.value.message and "requestState" in expired.value.message
    assert b.waiting == 0


async def test_a_slow_round_is_kept_alive_by_acknowledgements(workers) -> None:
    services, a, b = workers

    async def slow_then_done(call: SuspendedCall) -> dict:
        await call.request_client("roots/list", {})
        await asyncio.sleep(1.2)  # longer than the acknowledgement bound
        return {"content": []}

    state = (await a.registry.advance(a.registry.start(OWNER, slow_then_done)))["requestState"]
    assert await b.resume(services, state, OWNER, {"r1": {"roots": []}}) == {"content": []}


async def test_an_abandoned_resume_cancels_the_call_on_its_worker(workers) -> None:
    services, a, b = workers
    resumed = asyncio.Event()

    async def answered_then_busy(call: SuspendedCall) -> dict:
        await call.request_client("roots/list", {})
        resumed.set()
        await asyncio.Event().wait()  # works until cancelled
        return {}

    state = (await a.registry.advance(a.registry.start(OWNER, answered_then_busy)))["requestState"]
    call = a.registry.get(state, OWNER)
    relayed = asyncio.create_task(b.resume(services, state, OWNER, {"r1": {"roots": []}}))
    await asyncio.wait_for(resumed.wait(), 5)  # A handed the answer over: the resume is in progress
    relayed.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await relayed
    await asyncio.wait({call.task}, timeout=5)  # (waiting does not cancel it)
    assert call.task.cancelled() and a.registry.get(state, OWNER) is None
