"""The Redis cache backend shares one client per process instead of one per backend instance."""

from __future__ import annotations

import pytest

from contextforge.cache import SharedPoolRedisCache

pytestmark = pytest.mark.redis


def test_instances_share_one_client_and_its_data(redis_url):
    a = SharedPoolRedisCache(redis_url, {})
    b = SharedPoolRedisCache(redis_url, {})
    assert a._cache is b._cache
    a.set("cf:test:shared-pool", {"n": 1}, 30)
    assert b.get("cf:test:shared-pool") == {"n": 1}
    b.delete("cf:test:shared-pool")


def test_different_configurations_get_different_clients(redis_url):
    a = SharedPoolRedisCache(redis_url, {})
    b = SharedPoolRedisCache(redis_url, {"OPTIONS": {"socket_timeout": 7}})
    assert a._cache is not b._cache
    assert b.get("cf:test:absent") is None
