"""Tool calls suspended on an ``input_required`` result (2026-07-28 multi round-trip).

When an upstream asks the calling client something (sampling, elicitation, roots)
during a 2026-07-28 ``tools/call``, the gateway cannot send a server→client request:
it answers the call with ``resultType: "input_required"`` carrying the upstream's
request(s) and a ``requestState`` naming the suspended call. The upstream call keeps
running in a task of the worker that started it, blocked on the answer; the client's
retry of the call with ``inputResponses`` + that ``requestState`` resumes it.

The suspended task (and its pooled upstream session) cannot leave its process, so this
module is the registry of *this* worker's suspended calls. A request state reads
``<worker>.<secret>``: the worker part names the process holding the call, the secret
(192 random bits) makes the state unguessable, and the registry hands a call only to
the caller (principal, server, tool) that started it. A retry may land on any worker:
resume.py resumes a call held here directly and relays any other to its worker over
the session service (with an acknowledgement, so a worker that is gone yields a clear
error instead of a hang). Every suspended call is bounded by
``MCP_INPUT_REQUIRED_TIMEOUT`` seconds per round: an unanswered request fails the
upstream call and the entry is dropped.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from apps.protocols.spi import CatalogError

from .errors import INVALID_PARAMS, RpcError

__all__ = ["UNKNOWN_STATE", "Registry", "SuspendedCall", "suspended", "worker_of"]

#: The error for a request state that names no call the caller may resume here (missing = forbidden).
UNKNOWN_STATE = "params.requestState names no suspended call of this tool (unknown, finished or expired)"
_STATE = re.compile(r"([0-9a-f]{16})\.[A-Za-z0-9_-]{32}")


def input_timeout() -> float:
    """Seconds a suspended call waits for the client's retry (``MCP_INPUT_REQUIRED_TIMEOUT``)."""
    return float(getattr(settings, "MCP_INPUT_REQUIRED_TIMEOUT", 120.0))


def worker_of(state: str) -> str | None:
    """The worker named by a well-formed request state (None for anything else)."""
    match = _STATE.fullmatch(state)
    return match.group(1) if match else None


@dataclass
class SuspendedCall:
    """One tool call of a 2026-07-28 client, run in its own task, asking the client through rounds."""

    owner: str
    state: str
    task: asyncio.Task | None = None
    #: Requests asked since the last round, key → {"method", "params"}.
    asked: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, asyncio.Future] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    #: True while a request waits for the call's next round (a second, concurrent retry is refused).
    busy: bool = False

    async def request_client(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The ``CallOptions.request_client`` of the call: park the request until the client retries."""
        key = f"r{len(self.answers) + 1}"
        future = asyncio.get_running_loop().create_future()
        self.answers[key] = future
        self.asked[key] = {"method": method, "params": params}
        self.wake.set()
        try:
            async with asyncio.timeout(input_timeout()):
                return await future
        except TimeoutError:
            raise CatalogError("timeout", f"The client did not answer {method} in time") from None

    def answer(self, responses: dict[str, Any]) -> None:
        """Hand the client's ``inputResponses`` to the requests awaiting them (unknown keys ignored)."""
        for key, value in responses.items():
            future = self.answers.get(key)
            if future is not None and not future.done():
                if not isinstance(value, dict):
                    future.set_exception(CatalogError("invalid_arguments", f"inputResponses.{key} must be an object"))
                else:
                    future.set_result(value)

    async def next_round(self) -> dict[str, dict[str, Any]] | None:
        """Wait until the call asks the client something (returns the requests) or ends (None)."""
        assert self.task is not None
        waiter = asyncio.ensure_future(self.wake.wait())
        try:
            await asyncio.wait({self.task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if self.asked:
            asked, self.asked = self.asked, {}
            self.wake.clear()
            return asked
        return None


class Registry:
    """This worker's suspended calls, by request state."""

    def __init__(self) -> None:
        self._calls: dict[str, SuspendedCall] = {}
        self._worker = ""
        self._pid = 0

    @property
    def worker(self) -> str:
        """This process's worker id (random; drawn again in a forked child, which holds no calls)."""
        if self._pid != os.getpid():
            self._worker, self._pid = secrets.token_hex(8), os.getpid()
            self._calls = {}
        return self._worker

    def start(self, owner: str, run: Callable[[SuspendedCall], Awaitable[Any]]) -> SuspendedCall:
        """Run ``run(call)`` in a task registered until it ends."""
        call = SuspendedCall(owner=owner, state=f"{self.worker}.{secrets.token_urlsafe(24)}")
        call.task = asyncio.create_task(run(call), name=f"mcp-suspended-{call.state[17:25]}")
        self._calls[call.state] = call
        # A call that ends between rounds keeps its result for the client's retry, within the bound.
        call.task.add_done_callback(
            lambda _t: asyncio.get_running_loop().call_later(input_timeout(), self.finish, call.state)
        )
        return call

    def finish(self, state: str) -> None:
        """Forget a suspended call (its result was collected, or nobody came back for it)."""
        self._calls.pop(state, None)

    def get(self, state: str, owner: str) -> SuspendedCall | None:
        """The suspended call named ``state`` if it belongs to ``owner`` (else None: missing = forbidden)."""
        call = self._calls.get(state)
        return call if call is not None and call.owner == owner else None

    async def advance(self, call: SuspendedCall, responses: dict[str, Any] | None = None) -> dict[str, Any]:
        """Hand over the client's answers, then run the call to its next round or its end.

        Returns the ``input_required`` result of the next round, or the call's own result
        (raising what the call raised). Cancelling the wait cancels the call.
        """
        assert call.task is not None
        if call.busy:
            raise RpcError(INVALID_PARAMS, "params.requestState names a call that another request is resuming")
        call.busy = True
        try:
            if responses:
                call.answer(responses)
            try:
                asked = await call.next_round()
            except asyncio.CancelledError:
                call.task.cancel()
                self.finish(call.state)
                raise
        finally:
            call.busy = False
        if asked is not None:
            return {"resultType": "input_required", "inputRequests": asked, "requestState": call.state}
        self.finish(call.state)
        return call.task.result()


#: The process-wide registry.
suspended = Registry()
