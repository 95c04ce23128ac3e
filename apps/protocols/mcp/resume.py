"""Resuming a suspended 2026-07-28 tool call from whichever worker the client's retry reaches.

A request state names the worker holding its call (see suspended.py). A retry reaching
that worker resumes the call at once. A retry reaching another worker is relayed over
the session service, the way cancellations and client answers already cross workers.
Every worker listens on its own channel (``mcp.worker.<id>``) for both directions:

1. the retrying worker publishes ``{"kind": "resume", "state", "owner", "responses",
   "reply_to", "reply"}`` on the owning worker's channel (``reply_to`` is its own worker
   id, ``reply`` a fresh correlation id it waits on);
2. the owning worker checks the state and the caller (``owner``, computed by the retrying
   worker from the authenticated principal): an unknown state, or one started by another
   caller, is answered at once with the same error. Otherwise it acknowledges, hands the
   answers to the call and keeps acknowledging while the call runs to its next round;
3. it publishes the outcome on the retrying worker's channel, ``{"kind": "result",
   "result"}`` (the next ``input_required`` round or the final result) or ``{"kind":
   "error", "error"}``, which the retrying worker answers the client with.

The retrying worker waits at most ``MCP_RESUME_ACK_TIMEOUT`` seconds for each message, so
a worker that is gone (or a state naming no live worker) ends in a clear JSON-RPC error,
not a hang; its waiter is dropped either way. Replies travel on the long-lived worker
channel rather than on a subscription per relay: no subscription has to be set up or torn
down per retry. A retry abandoned by its client (disconnect, cancellation) tells the
owning worker, which cancels the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from typing import Any

from django.conf import settings

from apps.protocols.spi import CoreServices

from .errors import INTERNAL_ERROR, INVALID_PARAMS, RpcError
from .suspended import UNKNOWN_STATE, Registry, suspended, worker_of

logger = logging.getLogger(__name__)

__all__ = ["Resumer", "resumer", "worker_channel"]

_WORKER = re.compile(r"[0-9a-f]{16}")
_REPLY = re.compile(r"[A-Za-z0-9_-]{22}")
_OUTCOMES = ("ack", "result", "error")


def worker_channel(worker: str) -> str:
    """The channel on which one worker receives relayed resumes and the outcomes of its own relays."""
    return f"mcp.worker.{worker}"


def ack_timeout() -> float:
    """Seconds a relayed resume waits for each sign of life of the owning worker (``MCP_RESUME_ACK_TIMEOUT``)."""
    return float(getattr(settings, "MCP_RESUME_ACK_TIMEOUT", 3.0))


class Resumer:
    """This worker's side of resuming: resume any state, serve the resumes other workers relay here.

    ``handle`` is fed every message of ``channel`` by the worker's listener, which sets
    ``ready`` once it is subscribed.
    """

    def __init__(self, registry: Registry = suspended) -> None:
        self.registry = registry
        self.ready = asyncio.Event()
        self._waiting: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task] = set()

    @property
    def channel(self) -> str:
        """The channel this worker listens on."""
        return worker_channel(self.registry.worker)

    @property
    def waiting(self) -> int:
        """Relays of this worker waiting for an outcome."""
        return len(self._waiting)

    async def resume(self, services: CoreServices, state: str, owner: str, responses: dict[str, Any]) -> dict[str, Any]:
        """Resume the suspended call named ``state`` for ``owner`` with the client's answers, wherever it runs.

        Returns the next ``input_required`` round or the call's result; raises RpcError for
        an unknown, foreign or expired state (and whatever the call itself failed with).
        """
        worker = worker_of(state)
        if worker is None:
            raise RpcError(INVALID_PARAMS, UNKNOWN_STATE)
        if worker == self.registry.worker:
            call = self.registry.get(state, owner)
            if call is None:
                raise RpcError(INVALID_PARAMS, UNKNOWN_STATE)
            return await self.registry.advance(call, responses)
        return await self._relay(services, worker, {"state": state, "owner": owner, "responses": responses})

    async def _relay(self, services: CoreServices, worker: str, request: dict[str, Any]) -> dict[str, Any]:
        """Send a resume to the worker holding the call and wait (bounded) for its outcome."""
        bound = ack_timeout()
        reply = secrets.token_urlsafe(16)
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=64)
        self._waiting[reply] = inbox
        sent = False
        try:
            await _within(bound, self.ready.wait())
            message = {"kind": "resume", "reply_to": self.registry.worker, "reply": reply, **request}
            sent = True
            # Shielded: a cancellation must reach this coroutine (to abandon the call), not be lost
            # inside the Redis client (redis/redis-py#2028).
            await asyncio.shield(services.sessions.publish(worker_channel(worker), message))
            while True:
                answer = await _within(bound, inbox.get())
                if answer["kind"] == "result" and isinstance(answer.get("result"), dict):
                    return answer["result"]
                if answer["kind"] == "error":
                    raise _error(answer.get("error"))
                if answer["kind"] != "ack":
                    raise _error(None)
        except asyncio.CancelledError:
            if sent:  # the client is gone: the call it was resuming is abandoned too
                self._spawn(_publish(services, worker, {"kind": "abandon", **request}))
            raise
        finally:
            del self._waiting[reply]

    def handle(self, services: CoreServices, message: dict[str, Any]) -> None:
        """Act on one message of this worker's channel (a relayed resume is served in its own task)."""
        kind = message.get("kind")
        if kind in _OUTCOMES:
            reply = message.get("reply")
            inbox = self._waiting.get(reply) if isinstance(reply, str) else None
            if inbox is not None:
                with contextlib.suppress(asyncio.QueueFull):
                    inbox.put_nowait(message)
            return
        state, owner = message.get("state"), message.get("owner")
        if not isinstance(state, str) or not isinstance(owner, str):
            return
        if kind == "abandon":
            call = self.registry.get(state, owner)
            if call is not None and call.task is not None:
                call.task.cancel()
                self.registry.finish(state)
            return
        reply_to, reply = message.get("reply_to"), message.get("reply")
        if kind != "resume" or not isinstance(reply_to, str) or not isinstance(reply, str):
            return
        if not _WORKER.fullmatch(reply_to) or not _REPLY.fullmatch(reply):
            return
        responses = message.get("responses")
        responses = responses if isinstance(responses, dict) else {}
        self._spawn(self._serve(services, state, owner, responses, reply_to, reply))

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(
        self, services: CoreServices, state: str, owner: str, responses: dict[str, Any], reply_to: str, reply: str
    ) -> None:
        """Resume a call held here for another worker, acknowledging until the outcome is sent."""
        call = self.registry.get(state, owner)
        if call is None:
            outcome = {"kind": "error", "error": RpcError(INVALID_PARAMS, UNKNOWN_STATE).as_error(), "reply": reply}
            await _publish(services, reply_to, outcome)
            return
        ack = {"kind": "ack", "reply": reply}
        await _publish(services, reply_to, ack)
        beat = asyncio.create_task(_beat(services, reply_to, ack))
        try:
            outcome = {"kind": "result", "result": await self.registry.advance(call, responses)}
        except RpcError as exc:
            outcome = {"kind": "error", "error": exc.as_error()}
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # this worker is shutting down
            cancelled = RpcError(INTERNAL_ERROR, "The suspended call was cancelled")
            outcome = {"kind": "error", "error": cancelled.as_error()}
        except Exception:
            logger.exception("resumed tool call failed")
            outcome = {"kind": "error", "error": RpcError(INTERNAL_ERROR, "Internal error").as_error()}
        finally:
            beat.cancel()
        await _publish(services, reply_to, {**outcome, "reply": reply})

    async def close(self) -> None:
        """Stop serving (shutdown): the resumes being served are cancelled."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)


async def _within(bound: float, waiting: Any) -> Any:
    # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancellation that coincides
    # with the awaited result, and a cancelled relay must abandon its call.
    try:
        async with asyncio.timeout(bound):
            return await waiting
    except TimeoutError:
        raise RpcError(
            INVALID_PARAMS,
            f"params.requestState names a suspended call whose gateway worker did not answer within {bound:g}s "
            "(expired or unknown request state)",
        ) from None


def _error(error: Any) -> RpcError:
    """The RpcError an owning worker's error outcome stands for."""
    if isinstance(error, dict) and isinstance(error.get("code"), int) and isinstance(error.get("message"), str):
        return RpcError(error["code"], error["message"], error.get("data"))
    return RpcError(INTERNAL_ERROR, "The gateway worker holding the call answered the resume badly")


async def _publish(services: CoreServices, worker: str, message: dict[str, Any]) -> None:
    """Publish on a worker's channel; a failure is logged (the other side's wait is bounded)."""
    try:
        await services.sessions.publish(worker_channel(worker), message)
    except Exception:
        logger.warning("could not publish a %s message to worker %s", message.get("kind"), worker, exc_info=True)


async def _beat(services: CoreServices, worker: str, ack: dict[str, Any]) -> None:
    """Acknowledge again while the call runs, so the retrying worker knows the owning one is alive."""
    while True:
        await asyncio.sleep(ack_timeout() / 3)
        await _publish(services, worker, ack)


#: This process's resumer.
resumer = Resumer()
