"""Fixtures shared by the whole suite."""

from __future__ import annotations

import shutil

import pytest
import redis
from django.conf import settings

from tests.servers import ServerProcess, free_port


def _redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real Redis: REDIS_URL when set, else a redis-server started for this run."""
    if settings.REDIS_URL:
        yield settings.REDIS_URL
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("needs REDIS_URL or a redis-server binary on PATH")
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = ServerProcess(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        port=port,
        ready=lambda: _redis_answers(url),
    )
    with server:
        yield url


@pytest.fixture(scope="session", autouse=True)
def _release_test_database(django_db_setup, django_db_blocker):
    """Before the test database is dropped, end sessions that worker threads or child servers left open.

    PostgreSQL refuses to drop a database that has other sessions, which would leave the
    test database behind for the next run.
    """
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
