"""Running the runtime's coroutines from synchronous code (Celery tasks, services, commands).

Sessions belong to the event loop that opened them. Under the ASGI server a synchronous
caller runs in a worker thread of the main loop, so its coroutine is sent to that loop
and uses the worker's pooled sessions. Elsewhere (a Celery worker, a management
command) there is no such loop: the coroutine runs on one long-lived background loop
per process, so its sessions, too, are pooled across calls instead of being opened
and dropped with a throwaway loop each time.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from asgiref.sync import SyncToAsync, async_to_sync

__all__ = ["BackgroundLoop", "run_sync"]

T = TypeVar("T")


def _main_loop() -> asyncio.AbstractEventLoop | None:
    """The ASGI server's loop when this thread was started from it by sync_to_async."""
    if getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() else None


class BackgroundLoop:
    """One event loop on a daemon thread, started on first use and closed at exit."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._on_stop: list[Callable[[], Awaitable[None]]] = []

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="mcp-upstream-loop", daemon=True).start()
                self._loop = loop
                atexit.register(self.stop)
            return self._loop

    def run(self, awaitable: Awaitable[T], timeout: float | None = None) -> T:
        """Run a coroutine on the background loop and wait for its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(awaitable, self._ensure())  # type: ignore[arg-type]
        return future.result(timeout)

    def on_stop(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` on the loop before it stops (closing sessions, stopping processes)."""
        self._on_stop.append(callback)

    def stop(self) -> None:
        """Run the stop callbacks, then stop the loop."""
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running():
            return
        for callback in self._on_stop:
            try:
                asyncio.run_coroutine_threadsafe(callback(), loop).result(15)
            except Exception:  # noqa: S112 - best effort at exit; the next callback still runs
                continue
        loop.call_soon_threadsafe(loop.stop)


def run_sync(background: BackgroundLoop, function: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Call an async function from synchronous code, on the loop whose sessions it should use."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("run_sync called from a running event loop: await the coroutine instead")
    if _main_loop() is not None:
        return async_to_sync(function)(*args, **kwargs)
    return background.run(function(*args, **kwargs))
