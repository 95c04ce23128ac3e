"""Django's Redis cache backend with one client (and connection pool) per process.

``django.core.cache.caches`` gives every asyncio task its own backend instance, and Django's
``RedisCache`` keeps its connection pool on the instance: in an ASGI worker each request
opened (and later dropped) a new Redis connection, which profiles showed to be the largest
cost of a warm MCP call. This backend shares one client per configuration across the
process's instances. redis-py's pools are thread-safe and start afresh after a fork.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache
from django.utils.functional import cached_property

__all__ = ["SharedPoolRedisCache"]

_clients: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()


class SharedPoolRedisCache(RedisCache):
    """``RedisCache`` whose client is shared by every instance with the same configuration."""

    @cached_property
    def _cache(self) -> Any:
        key = (self._class, tuple(self._servers), repr(sorted(self._options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
        return client
