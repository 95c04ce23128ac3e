"""/health, /ready and /version."""

from __future__ import annotations

import httpx
import pytest
from django.db import connection
from django.test import Client

from apps.protocols.registry import ModuleState, registry
from tests.servers import free_port, gateway_env, start_gateway


@pytest.fixture
def modules_ready():
    """Modules as the ASGI lifespan leaves them: initialized and ready."""
    from asgiref.sync import async_to_sync

    async_to_sync(registry.start)()
    yield registry
    for module in registry.all():
        module.state = ModuleState.READY


def test_health_touches_nothing(client: Client):
    # No django_db mark: any database access here would raise.
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_lists_every_check(client: Client, modules_ready):
    response = client.get("/ready")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready"
    assert body["failing"] == []
    assert set(body["checks"]) >= {"database", "cache", "channel_layer", "module:mcp"}
    assert all(check["ok"] for check in body["checks"].values())


@pytest.mark.django_db
def test_ready_names_a_module_that_is_not_ready(client: Client, modules_ready):
    registry.get("mcp").state = ModuleState.DRAINING
    response = client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["module:mcp"]
    assert body["checks"]["module:mcp"]["state"] == "draining"


@pytest.mark.django_db
def test_version_describes_the_build(client: Client):
    body = client.get("/version").json()
    assert body["app"] == "contextforge"
    assert body["database"] == connection.vendor
    assert "2026-07-28" in body["mcp_revisions"] and "2024-11-05" in body["mcp_revisions"]
    assert isinstance(body["a2a_versions"], list)
    assert body["redis"] is bool(__import__("django.conf").conf.settings.REDIS_URL)
    assert body["python"].count(".") == 2
    assert body["django"].startswith("5.2")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_ready_is_503_when_the_database_is_unreachable():
    dead_port = free_port()
    env = gateway_env(DATABASE_URL=f"postgres://postgres@127.0.0.1:{dead_port}/nothing")
    with start_gateway(env=env) as server:
        assert httpx.get(f"{server.url}/health").status_code == 200
        response = httpx.get(f"{server.url}/ready", timeout=15)
    assert response.status_code == 503
    body = response.json()
    assert "database" in body["failing"]
    assert "unreachable" in body["checks"]["database"]["error"]
