"""Version tokens: a local copy per process, refreshed only when a writer announces a move."""

from __future__ import annotations

import uuid

import pytest
import redis
from django.core.cache import cache
from django.test import override_settings

from contextforge import versions

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_cache(redis_url):
    """The default cache on a real Redis, with a fresh version watch before and after."""
    with override_settings(
        CACHES={"default": {"BACKEND": "contextforge.cache.SharedPoolRedisCache", "LOCATION": redis_url}}
    ):
        versions.reset()
        yield redis_url
        versions.reset()
    versions.reset()


def _key() -> str:
    return f"cf:test:version:{uuid.uuid4().hex}"


def test_a_token_moved_without_announcement_is_not_read_again(redis_cache):
    key = _key()
    cache.set(key, "v1", 60)
    assert versions.read([key]) == {key: "v1"}
    cache.set(key, "v2", 60)  # as another process would, but silently
    assert versions.read([key]) == {key: "v1"}, "the local copy is used: no round trip per read"
    versions.announce()
    assert versions.read([key]) == {key: "v2"}


def test_an_announcement_from_another_process_refreshes_the_copy(redis_cache):
    key = _key()
    cache.set(key, "v1", 60)
    assert versions.read([key]) == {key: "v1"}
    cache.set(key, "v2", 60)
    other = redis.Redis.from_url(redis_cache)
    receivers = other.publish(versions._current_watch().channel, b"1")
    assert receivers >= 1
    assert versions.read([key]) == {key: "v2"}


def test_a_lost_subscription_falls_back_to_reading_and_resubscribes(redis_cache):
    key = _key()
    cache.set(key, "v1", 60)
    assert versions.read([key]) == {key: "v1"}
    other = redis.Redis.from_url(redis_cache)
    assert other.client_kill_filter(_type="pubsub") >= 1
    cache.set(key, "v2", 60)  # moved while this process could not hear about it
    assert versions.read([key]) == {key: "v2"}
    assert versions._current_watch().pubsub is not None, "subscribed again"
    cache.set(key, "v3", 60)
    other.publish(versions._current_watch().channel, b"1")
    assert versions.read([key]) == {key: "v3"}


def test_missing_tokens_are_absent_and_read_once_set(redis_cache):
    key = _key()
    assert versions.read([key]) == {}
    cache.set(key, 7, 60)
    versions.announce()
    assert versions.read([key]) == {key: 7}


@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
def test_without_redis_the_cache_is_read_every_time():
    versions.reset()
    key = _key()
    cache.set(key, "v1", 60)
    assert versions.read([key]) == {key: "v1"}
    cache.set(key, "v2", 60)
    assert versions.read([key]) == {key: "v2"}
    versions.reset()
