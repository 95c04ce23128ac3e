"""Shared version tokens, read by every worker without a round trip per request.

Per-worker memos (the catalog's resolved calls, the auth cache) are valid as long as a
few *version tokens* in the cache backend have not moved: the catalog version and the
auth epoch. Reading them from Redis on every request cost several blocking round trips
per call. Instead each process keeps a local copy and a Redis pub/sub subscription:
whoever moves a token publishes on ``CHANNEL`` right after writing it, and a reader
drains its subscription (a non-blocking socket read, no round trip) before trusting its
copy; a message, a lost subscription or a fresh process means "read the tokens again".

Ordering: a writer sets the token, then publishes, then answers its own caller. Redis
writes the message into every subscriber's socket before it answers the publisher, so
on one host a request that follows the write always sees the message when it drains.
Between hosts the window is one network delivery.

Without Redis (the embedded default, one process, in-memory cache) the tokens are read
from the cache itself, which is local and cheap.

Hand-written: redis-py gives the subscription; no library keeps invalidation-driven
local copies of a handful of keys with this read-your-writes ordering.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache

logger = logging.getLogger(__name__)

__all__ = ["announce", "read", "reset"]

#: Pub/sub channel (suffixed by the Redis database: channels are not per database).
CHANNEL = "cf:versions"


class _Watch:
    """This process's copy of the version tokens and the subscription that keeps it fresh."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.client: Any = None  # redis.Redis, or False when the cache is not Redis
        self.pubsub: Any = None
        self.channel = CHANNEL
        self.values: dict[str, Any] = {}
        self.fresh = False  # values reflect every announcement received so far

    def redis(self) -> Any:
        """The cache backend's Redis client, or False when the cache is something else."""
        if self.client is None:
            raw = getattr(cache, "_cache", None)
            get_client = getattr(raw, "get_client", None)
            self.client = get_client(write=True) if get_client is not None else False
            if self.client is not False:
                db = self.client.connection_pool.connection_kwargs.get("db", 0)
                self.channel = f"{CHANNEL}:{db}"
        return self.client

    def subscribe(self) -> bool:
        """Open the subscription (once); False when it cannot be had right now."""
        if self.pubsub is not None:
            return True
        try:
            pubsub = self.client.pubsub()
            pubsub.subscribe(self.channel)
            # Wait for the confirmation: announcements after it are guaranteed to reach us.
            confirmed = pubsub.get_message(timeout=2.0)
            if not confirmed or confirmed.get("type") != "subscribe":
                pubsub.close()
                return False
        except Exception:
            logger.warning("version tokens: cannot subscribe to %s; reading them every time", self.channel)
            return False
        self.pubsub = pubsub
        self.fresh = False
        return True

    def drain(self) -> None:
        """Take every pending announcement; any of them (or a broken subscription) means re-read."""
        try:
            while self.pubsub.get_message(timeout=0.0) is not None:
                self.fresh = False  # an announcement (nothing else arrives once subscribed)
        except Exception as exc:
            logger.warning("version tokens: subscription lost (%s); resubscribing", exc)
            self.close()

    def close(self) -> None:
        """Drop the subscription (it is reopened on the next read)."""
        pubsub, self.pubsub, self.fresh = self.pubsub, None, False
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:
                logger.debug("version tokens: closing the subscription failed", exc_info=True)


_watch = _Watch()


def _current_watch() -> _Watch:
    global _watch
    if _watch.pid != os.getpid():  # forked (Celery prefork): sockets are the parent's
        _watch = _Watch()
    return _watch


def read(keys: Iterable[str]) -> dict[str, Any]:
    """The current values of ``keys`` (missing keys absent), from the local copy when it is fresh.

    Raises what the cache backend raises when it has to be read and cannot be.
    """
    keys = list(keys)
    watch = _current_watch()
    if watch.redis() is False:
        return cache.get_many(keys)
    with watch.lock:
        if watch.subscribe():
            watch.drain()
            if watch.pubsub is None:  # lost: subscribe anew; what was missed is re-read below
                watch.subscribe()
        if watch.pubsub is None:
            return cache.get_many(keys)
        if not watch.fresh or any(k not in watch.values for k in keys):
            tracked = set(watch.values) | set(keys)
            found = cache.get_many(list(tracked))
            watch.values = {k: found.get(k) for k in tracked}
            watch.fresh = True
        return {k: watch.values[k] for k in keys if watch.values[k] is not None}


def announce() -> None:
    """Tell every process that a version token moved (call right after writing it)."""
    watch = _current_watch()
    client = watch.redis()
    if client is False:
        return
    try:
        client.publish(watch.channel, b"1")
    except Exception:
        logger.exception("version tokens: could not announce a change")
    with watch.lock:
        watch.fresh = False  # our own copy too, without waiting for our own message


def reset() -> None:
    """Forget the local copy and the subscription (tests; after the cache backend changed)."""
    watch = _current_watch()
    with watch.lock:
        watch.close()
        watch.client = None
        watch.values = {}
