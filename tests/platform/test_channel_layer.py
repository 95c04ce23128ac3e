"""The channel layer through a real Redis: what one worker sends, another receives."""

from __future__ import annotations

import pytest
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from django.conf import settings


@pytest.mark.redis
async def test_round_trip_between_two_workers(redis_url):
    worker_a = RedisChannelLayer(hosts=[redis_url], prefix="test-roundtrip")
    worker_b = RedisChannelLayer(hosts=[redis_url], prefix="test-roundtrip")
    try:
        channel = await worker_a.new_channel("session.")
        await worker_b.send(channel, {"type": "mcp.message", "body": "hello from B"})
        message = await worker_a.receive(channel)
        assert message == {"type": "mcp.message", "body": "hello from B"}

        await worker_a.group_add("catalog", channel)
        await worker_b.group_send("catalog", {"type": "catalog.changed", "kind": "tools"})
        assert (await worker_a.receive(channel))["kind"] == "tools"
    finally:
        await worker_a.flush()
        await worker_a.close_pools()
        await worker_b.close_pools()


def test_configured_layer_matches_the_environment():
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    if settings.REDIS_URL:
        assert backend == f"{RedisChannelLayer.__module__}.{RedisChannelLayer.__name__}"
    else:
        assert backend == f"{InMemoryChannelLayer.__module__}.{InMemoryChannelLayer.__name__}"
