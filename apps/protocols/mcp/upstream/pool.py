"""The per-worker pool of upstream sessions, with backpressure, timeouts, retries and breakers.

One ``UpstreamPool`` per event loop (a worker's loop; a Celery task's loop) holds one
``UpstreamConnection`` per (upstream, credential scope). Every call:

1. is refused at once while the upstream's circuit is open;
2. waits for one of the upstream's ``max_concurrency`` slots (at most ``max_queue``
   callers wait; more are refused, so load sheds instead of piling up);
3. reuses the live session (opening it, with retries and backoff, when there is none);
4. runs under one deadline covering queueing, connecting and the request itself;
5. is retried after a reconnect only when the transport failed and the operation is
   idempotent (never a tools/call that may have reached the upstream).

A background reaper closes sessions idle longer than ``idle_seconds`` and pings
sessions that have been quiet for ``keepalive_seconds``. Callers whose forwarded headers
differ (header passthrough) get sessions of their own, so the sessions per upstream are
also bounded in number (``max_sessions``): a new scope beyond it closes the least
recently used idle one, and is refused while every one of them is busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mcp.client import Client
from mcp.shared.exceptions import MCPError

from apps.protocols.spi import CallOptions, CatalogError, UpstreamTarget

from .breaker import CircuitBreaker
from .config import PoolConfig
from .connection import EventSink, UpstreamConnection
from .errors import is_connection_failure, translate
from .oauth import NeedsAuthorization, take_failure
from .relay import current_call

logger = logging.getLogger(__name__)

__all__ = ["PoolRegistry", "UpstreamPool", "scope_key"]

T = TypeVar("T")
Operation = Callable[[Client, float], Awaitable[T]]


def scope_key(target: UpstreamTarget) -> str:
    """The credential scope of a target: same upstream and same credentials share a session."""
    material = json.dumps(
        [
            target.gateway_id,
            target.transport.upper(),
            target.url,
            target.command,
            list(target.args),
            sorted(target.env.items()),
            sorted(target.headers.items()),
            sorted(target.query_params.items()),
            sorted((k, str(v)) for k, v in target.oauth.items()),
        ]
    )
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass
class _Upstream:
    """Per-upstream limits: the concurrency slots and the circuit breaker."""

    semaphore: asyncio.Semaphore
    breaker: CircuitBreaker
    waiting: int = 0
    peak_in_flight: int = 0
    in_flight: int = 0
    keys: set[str] = field(default_factory=set)


class UpstreamPool:
    """Live sessions to upstreams for one event loop."""

    def __init__(self, config: PoolConfig, on_event: EventSink | None = None) -> None:
        self.config = config
        self.on_event = on_event
        self._connections: dict[str, UpstreamConnection] = {}
        self._upstreams: dict[str, _Upstream] = {}
        self._connect_locks: dict[str, asyncio.Lock] = {}
        self._reaper: asyncio.Task | None = None
        self._closed = False

    # --- bookkeeping ------------------------------------------------------------

    def _upstream(self, target: UpstreamTarget) -> _Upstream:
        state = self._upstreams.get(target.gateway_id)
        if state is None:
            state = _Upstream(
                semaphore=asyncio.Semaphore(self.config.max_concurrency),
                breaker=CircuitBreaker(self.config.breaker_threshold, self.config.breaker_cooldown),
            )
            self._upstreams[target.gateway_id] = state
        return state

    def breaker(self, gateway_id: str) -> CircuitBreaker | None:
        """The circuit breaker of an upstream, when it has been used in this worker."""
        state = self._upstreams.get(gateway_id)
        return state.breaker if state else None

    def connection(self, target: UpstreamTarget) -> UpstreamConnection | None:
        """The pooled connection for the target's scope, if any."""
        return self._connections.get(scope_key(target))

    def _start_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.get_running_loop().create_task(self._reap_forever())

    async def _connect(self, target: UpstreamTarget) -> UpstreamConnection:
        key = scope_key(target)
        conn = self._connections.get(key)
        if conn is not None and not conn.closed:
            return conn
        while True:
            lock = self._connect_locks.setdefault(key, asyncio.Lock())
            try:
                async with lock:
                    if self._connect_locks.get(key) is not lock:
                        continue  # retired (its scope was forgotten) while we waited: queue on the current one
                    conn = self._connections.get(key)
                    if conn is not None and not conn.closed:
                        return conn
                    await self._make_room(target)
                    return await self._open(target, key)
            finally:
                if key not in self._connections and not lock.locked() and self._connect_locks.get(key) is lock:
                    del self._connect_locks[key]  # a scope that never opened leaves nothing behind

    async def _open(self, target: UpstreamTarget, key: str) -> UpstreamConnection:
        """Open the scope's session (retrying an unreachable upstream with backoff) and pool it."""
        attempt = 0
        while True:
            conn = UpstreamConnection(target, key, self.config, self.on_event)
            try:
                await conn.open()
            except CatalogError as exc:
                if exc.code == "unavailable" and attempt < self.config.connect_retries:
                    attempt += 1
                    await asyncio.sleep(self.config.retry_backoff * 2 ** (attempt - 1))
                    continue
                raise
            self._connections[key] = conn
            self._upstream(target).keys.add(key)
            self._start_reaper()
            return conn

    def _forget(self, key: str) -> UpstreamConnection | None:
        """Drop a scope's bookkeeping; returns its connection (for the caller to close)."""
        conn = self._connections.pop(key, None)
        lock = self._connect_locks.get(key)
        if lock is not None and not lock.locked():
            del self._connect_locks[key]
        if conn is not None:
            state = self._upstreams.get(conn.target.gateway_id)
            if state is not None:
                state.keys.discard(key)
        return conn

    async def _make_room(self, target: UpstreamTarget) -> None:
        """Before a new scope opens: keep at most ``max_sessions`` sessions to this upstream."""
        state = self._upstream(target)
        live = [self._connections[k] for k in state.keys if k in self._connections]
        if len(live) < self.config.max_sessions:
            return
        idle = [c for c in live if c.in_flight == 0 and not c.subscriptions]
        if not idle:
            raise CatalogError(
                "unavailable",
                f"upstream {target.name} has {len(live)} sessions in use in this worker (the most allowed)",
                {"upstream": target.name},
            )
        oldest = min(idle, key=lambda c: c.last_used)
        logger.info("upstream %s: closing the least recently used of %d sessions", target.name, len(live))
        self._forget(oldest.key)
        await oldest.close()

    # --- calls --------------------------------------------------------------------

    async def run(
        self,
        target: UpstreamTarget,
        operation: Operation[T],
        options: CallOptions | None = None,
        *,
        idempotent: bool,
        budget: float | None = None,
    ) -> T:
        """Run ``operation(client, seconds_left)`` on the target's pooled session, within all limits."""
        if self._closed:
            raise CatalogError("unavailable", "the upstream pool is shut down")
        options = options or CallOptions()
        state = self._upstream(target)
        breaker = state.breaker
        name = target.name
        if not breaker.allow():
            raise CatalogError(
                "unavailable",
                f"upstream {name} is unavailable (circuit open after {breaker.failures} failures; "
                f"next try in {breaker.retry_after():.0f}s)",
                {"upstream": name},
            )
        budget = budget or options.timeout or target.timeout or self.config.call_timeout
        deadline = time.monotonic() + budget
        try:
            async with asyncio.timeout(budget):
                result = await self._run_bounded(target, state, operation, options, idempotent, deadline)
        except TimeoutError:
            breaker.record_failure()
            raise CatalogError(
                "timeout", f"upstream {name} did not answer within {budget:g}s", {"upstream": name}
            ) from None
        except asyncio.CancelledError:
            breaker.release()
            raise
        except NeedsAuthorization:
            breaker.release()  # the upstream is fine; it waits for an operator
            raise
        except CatalogError as exc:
            if exc.code in ("unavailable", "timeout"):
                breaker.record_failure()
            else:
                breaker.record_success()
            raise
        except Exception as exc:
            failure = take_failure(target.gateway_id)  # an auth flow tore the transport down: say why
            if failure is not None:
                breaker.release()
                raise failure from None
            self._record_and_raise(exc, name, breaker)
        breaker.record_success()
        return result

    @staticmethod
    def _record_and_raise(exc: Exception, name: str, breaker: CircuitBreaker) -> None:
        if isinstance(exc, MCPError):
            error = translate(exc, name)
            if error.code in ("unavailable", "timeout"):
                breaker.record_failure()
            else:
                breaker.record_success()  # the upstream answered, with an error
            raise error from None
        if is_connection_failure(exc):
            breaker.record_failure()
        raise translate(exc, name) from exc

    async def _run_bounded(
        self,
        target: UpstreamTarget,
        state: _Upstream,
        operation: Operation[T],
        options: CallOptions,
        idempotent: bool,
        deadline: float,
    ) -> T:
        if state.waiting >= self.config.max_queue and state.semaphore.locked():
            raise CatalogError(
                "unavailable",
                f"upstream {target.name} is busy ({state.waiting} requests waiting)",
                {"upstream": target.name},
            )
        state.waiting += 1
        try:
            await state.semaphore.acquire()
        finally:
            state.waiting -= 1
        state.in_flight += 1
        state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
        try:
            attempt = 0
            while True:
                conn = await self._connect(target)
                conn.in_flight += 1
                try:
                    async with conn.interaction(options):
                        client = await conn.session_client(max(0.01, deadline - time.monotonic()))
                        token = current_call.set(options)
                        try:
                            # Leave the SDK a margin so its own timeout (with a courtesy cancel) fires first.
                            return await operation(client, max(0.01, deadline - time.monotonic() - 0.05))
                        finally:
                            current_call.reset(token)
                except Exception as exc:
                    if not is_connection_failure(exc):
                        raise
                    conn.mark_lost(exc)
                    if not idempotent or attempt >= self.config.connect_retries:
                        raise
                    attempt += 1
                    await asyncio.sleep(self.config.retry_backoff * 2 ** (attempt - 1))
                finally:
                    conn.in_flight -= 1
                    conn.last_used = time.monotonic()
        finally:
            state.in_flight -= 1
            state.semaphore.release()

    # --- maintenance --------------------------------------------------------------

    async def _reap_forever(self) -> None:
        interval = max(0.2, min(self.config.idle_seconds, self.config.keepalive_seconds) / 2)
        while not self._closed:
            await asyncio.sleep(interval)
            try:
                await self.reap()
            except Exception:
                logger.exception("upstream pool: reaping failed")

    async def reap(self) -> None:
        """Close idle sessions; ping quiet ones so a dead upstream is noticed before a caller does."""
        now = time.monotonic()
        for key, conn in list(self._connections.items()):
            if conn.closed:
                self._forget(key)
                continue
            if conn.in_flight == 0 and now - conn.last_used > self.config.idle_seconds:
                logger.info("upstream %s: closing idle session", conn.name)
                self._forget(key)
                await conn.close()
            elif (
                conn.state == "ready"
                and now - conn.last_used > self.config.keepalive_seconds
                and now - conn.last_ping > self.config.keepalive_seconds
            ):
                try:
                    await conn.ping(self.config.connect_timeout)
                except Exception as exc:
                    conn.mark_lost(exc)

    async def close_upstream(self, gateway_id: str) -> None:
        """Close every session of one upstream (it was edited or deleted)."""
        for key, conn in list(self._connections.items()):
            if conn.target.gateway_id == gateway_id:
                self._forget(key)
                await conn.close()
        state = self._upstreams.pop(gateway_id, None)
        if state is not None:
            state.keys.clear()

    async def close(self) -> None:
        """Close every session and stop the reaper (worker shutdown)."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(BaseException):
                await self._reaper
        connections = list(self._connections.values())
        self._connections.clear()
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)

    def stats(self) -> dict[str, Any]:
        """Per-upstream counters for health and admin pages."""
        out: dict[str, Any] = {}
        for gateway_id, state in self._upstreams.items():
            out[gateway_id] = {
                "in_flight": state.in_flight,
                "peak_in_flight": state.peak_in_flight,
                "waiting": state.waiting,
                "circuit": state.breaker.state,
                "sessions": [self._connections[k].stats() for k in state.keys if k in self._connections],
            }
        return out


class PoolRegistry:
    """One pool per event loop: sessions are bound to the loop that opened them."""

    def __init__(self, config_factory: Callable[[], PoolConfig], on_event: EventSink | None = None) -> None:
        self._config_factory = config_factory
        self._config: PoolConfig | None = None
        self.on_event = on_event
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, UpstreamPool] = weakref.WeakKeyDictionary()

    @property
    def config(self) -> PoolConfig:
        """The configuration every pool uses (read lazily, once)."""
        if self._config is None:
            self._config = self._config_factory()
        return self._config

    def current(self) -> UpstreamPool:
        """The pool of the running event loop (created on first use)."""
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None or pool._closed:
            pool = UpstreamPool(self.config, self.on_event)
            self._pools[loop] = pool
        return pool

    async def close_current(self) -> None:
        """Close the running loop's pool."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.close()
