"""Sessions & events, embedded: session records in the cache, streams over the channel layer.

With REDIS_URL set (production) records live in Redis (read through redis.asyncio, so
the hot path does not hop to a thread) and messages travel through channels-redis
groups, so any worker can load a session and reach the stream another worker holds.
In the embedded default (one process) the local-memory cache and the in-memory
channel layer serve the same contract.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import orjson
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache

__all__ = ["CATALOG_CHANNEL", "EmbeddedSessionService", "connect_catalog_changes", "group_name"]

#: The channel on which catalog changes are announced to protocol modules:
#: {"kind": "tools"|"resources"|"prompts"} and {"kind": "resource", "uri": ...} (one resource changed).
CATALOG_CHANNEL = "catalog.changes"

_KEY_PREFIX = "mcp:session:"
_GROUP_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


def group_name(channel: str) -> str:
    """A channel-layer group name for a logical channel (only safe characters, < 100)."""
    return _GROUP_UNSAFE.sub("_", f"cf.{channel}")[:99]


def _catalog_events(kind: str, ids: list[str]) -> list[dict[str, Any]]:
    if kind == "tool":
        return [{"kind": "tools"}]
    if kind == "prompt":
        return [{"kind": "prompts"}]
    if kind == "resource":
        from apps.catalog.models import Resource

        uris = Resource.objects.filter(pk__in=ids).values_list("uri", flat=True)
        return [{"kind": "resources"}, *({"kind": "resource", "uri": uri} for uri in uris)]
    if kind in ("server", "gateway"):
        return [{"kind": "tools"}, {"kind": "resources"}, {"kind": "prompts"}]
    return []


def _announce_catalog_change(sender: Any, kind: str, ids: list[str], **kwargs: Any) -> None:
    """Publish a committed catalog change on CATALOG_CHANNEL (every worker's listeners get it)."""
    layer = get_channel_layer()
    for event in _catalog_events(kind, ids):
        async_to_sync(layer.group_send)(group_name(CATALOG_CHANNEL), {"type": "cf.message", "payload": event})


def connect_catalog_changes() -> None:
    """Relay the catalog's change signal to CATALOG_CHANNEL (idempotent)."""
    from apps.catalog.signals import catalog_changed

    catalog_changed.connect(_announce_catalog_change, dispatch_uid="protocols.embedded.catalog_changes")


class EmbeddedSessionService:
    """SessionService over the cache (records) and the channel layer (publish/listen)."""

    def __init__(self) -> None:
        connect_catalog_changes()
        self._redis = None
        if settings.USING_REDIS:
            import redis.asyncio as aioredis

            self._redis = aioredis.Redis.from_url(settings.REDIS_URL)

    async def save_session(self, session_id: str, record: dict[str, Any], ttl: int) -> None:
        """Store or refresh a session record for ``ttl`` seconds."""
        key = _KEY_PREFIX + session_id
        if self._redis is not None:
            await self._redis.set(key, orjson.dumps(record), ex=max(1, ttl))
        else:
            cache.set(key, record, max(1, ttl))

    async def load_session(self, session_id: str) -> dict[str, Any] | None:
        """The session record, or None when unknown, expired or ended."""
        key = _KEY_PREFIX + session_id
        if self._redis is not None:
            raw = await self._redis.get(key)
            return orjson.loads(raw) if raw else None
        return cache.get(key)

    async def end_session(self, session_id: str) -> None:
        """End a session for every worker: its record is gone."""
        key = _KEY_PREFIX + session_id
        if self._redis is not None:
            await self._redis.delete(key)
        else:
            cache.delete(key)

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Deliver ``message`` to every listener of ``channel``, on whichever worker it is."""
        layer = get_channel_layer()
        await layer.group_send(group_name(channel), {"type": "cf.message", "payload": message})

    async def listen(self, channel: str, ready: asyncio.Event | None = None) -> AsyncIterator[dict[str, Any]]:
        """Receive the messages published to ``channel`` from now on, until the caller stops.

        ``ready`` is set as soon as the subscription is in place.
        """
        layer = get_channel_layer()
        group = group_name(channel)
        inbox = await layer.new_channel()
        await layer.group_add(group, inbox)
        if ready is not None:
            ready.set()
        try:
            while True:
                event = await layer.receive(inbox)
                payload = event.get("payload")
                if isinstance(payload, dict):
                    yield payload
        finally:
            await layer.group_discard(group, inbox)
