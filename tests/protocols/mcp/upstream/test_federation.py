"""Registration, health checks and federation sync of real upstreams through the catalog services."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from apps.catalog import federation, invoke, services
from apps.catalog.errors import InvalidInput
from apps.catalog.models import AuditEntry, Gateway, Prompt, Resource, ResourceTemplate, ServerTool, Tool
from apps.protocols.spi import CallOptions, CatalogError
from apps.teams.principals import principal_for_user
from tests.personas import api_client, make_personas
from tests.servers import free_port

from .conftest import FIXTURE_MODULE, fixture_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def runtime(registered_runtime):
    """The registered runtime, by a short name."""
    return registered_runtime


@pytest.fixture
def eager_tasks():
    """No Celery worker runs in these tests: queued tasks run in-process (as in the embedded default)."""
    from contextforge.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def cast():
    """The personas, created in a committed transaction (the runtime's threads read them)."""
    return make_personas()


def _owner(cast):
    return principal_for_user(cast.owner)


def test_registration_discovers_and_stores_everything(runtime, cast, http_server) -> None:
    gateway = services.create_gateway(_owner(cast), {"name": "fixture", "url": f"{http_server.url}/mcp"})
    originals = set(Tool.objects.filter(gateway=gateway).values_list("original_name", flat=True))
    assert {"test_simple_text", "test_sampling", "json_schema_2020_12_tool"} <= originals
    assert Tool.objects.get(gateway=gateway, original_name="test_simple_text").name == "fixture-test_simple_text"
    assert Resource.objects.filter(gateway=gateway, uri="test://static-text").exists()
    assert ResourceTemplate.objects.filter(gateway=gateway, uri_template="test://template/{id}/data").exists()
    assert Prompt.objects.filter(gateway=gateway, original_name="test_simple_prompt").exists()
    gateway.refresh_from_db()
    assert gateway.protocol_version == "2026-07-28" and gateway.server_info["name"] == "conformance-fixture"
    assert gateway.reachable and gateway.last_refresh_at is not None

    result = runtime.run_sync(invoke.call_tool, _owner(cast), "fixture-test_simple_text", {}, options=CallOptions())
    assert result.content[0]["text"] == "This is a simple text response for testing."


def test_stdio_registration(runtime, cast) -> None:
    gateway = services.create_gateway(
        _owner(cast),
        {"name": "local", "transport": "STDIO", "command": sys.executable, "args": ["-m", FIXTURE_MODULE]},
    )
    assert Tool.objects.filter(gateway=gateway, original_name="echo").exists()


@pytest.mark.parametrize("where", ["unreachable", "not-mcp"])
def test_registering_a_bad_upstream_fails_clearly_and_stores_nothing(runtime, cast, http_server, where) -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp" if where == "unreachable" else f"{http_server.url}/health"
    with pytest.raises(InvalidInput) as exc:
        services.create_gateway(_owner(cast), {"name": "bad", "url": url})
    assert "url" in exc.value.errors and "bad" in exc.value.errors["url"]
    assert not Gateway.objects.exists() and not Tool.objects.exists()
    response = api_client(cast.owner).post("/v1/gateways", {"name": "bad", "url": url}, format="json")
    assert response.status_code == 400 and "url" in response.json()["errors"]
    assert not Gateway.objects.exists()


def test_health_checks_mark_down_after_threshold_and_up_on_first_success(runtime, cast, settings) -> None:
    settings.GATEWAY_HEALTH_FAILURE_THRESHOLD = 3
    port = free_port()
    server = fixture_server("streamable-http", port).start()
    try:
        gateway = services.create_gateway(_owner(cast), {"name": "flaky", "url": f"{server.url}/mcp"})
        assert federation.check_gateways() == {"checked": 1, "failed": []}
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(5)
        for expected in (True, True, False):
            federation.check_gateways()
            gateway.refresh_from_db()
            assert gateway.reachable is expected
        assert gateway.consecutive_failures == 3 and "flaky" in gateway.last_error
        assert not Tool.objects.filter(gateway=gateway, reachable=True).exists()
        down = AuditEntry.objects.get(action="gateway.health", entity_id=gateway.pk)
        assert down.detail["reachable"] is False
        with pytest.raises(CatalogError) as exc:
            runtime.run_sync(invoke.call_tool, _owner(cast), "flaky-echo", {"text": "x"}, options=CallOptions())
        assert exc.value.code == "unavailable" and "upstream flaky is unreachable" in exc.value.message
    finally:
        server.stop()
    with fixture_server("streamable-http", port):
        for _ in range(50):  # the pooled session reconnects with backoff
            federation.check_gateways()
            gateway.refresh_from_db()
            if gateway.reachable:
                break
            time.sleep(0.1)
        assert gateway.reachable and gateway.consecutive_failures == 0
        assert AuditEntry.objects.filter(action="gateway.health", entity_id=gateway.pk).count() == 2
        result = runtime.run_sync(invoke.call_tool, _owner(cast), "flaky-echo", {"text": "back"}, options=CallOptions())
        assert result.content[0]["text"] == "back"


def test_sync_disables_removed_tools_and_follows_list_changed(runtime, cast, eager_tasks) -> None:
    gateway = services.create_gateway(
        _owner(cast),
        {"name": "live", "transport": "STDIO", "command": sys.executable, "args": ["-m", FIXTURE_MODULE]},
    )
    owner = _owner(cast)
    server = services.create_server(owner, {"name": "bundle", "tools": [Tool.objects.get(name="live-echo").pk]})

    # The upstream announces a change: the sync it triggers finds the new tool. (A 2026-07-28
    # listen stream is acknowledged asynchronously, so the change is announced until heard.)
    deadline = time.monotonic() + 15
    while not Tool.objects.filter(gateway=gateway, original_name="fresh").exists():
        assert time.monotonic() < deadline, "list_changed did not trigger a sync"
        runtime.run_sync(invoke.call_tool, owner, "live-add_tool", {"name": "fresh"}, options=CallOptions())
        time.sleep(0.3)

    runtime.run_sync(invoke.call_tool, owner, "live-remove_tool", {"name": "echo"}, options=CallOptions())
    report = services.sync_gateway(gateway.pk)  # (the list_changed sync may already have run)
    assert report["success"] and report["toolsRemoved"] in (0, 1)
    echo = Tool.objects.get(gateway=gateway, original_name="echo")
    assert not echo.enabled and services.REMOVED_UPSTREAM_TAG in echo.tags
    assert ServerTool.objects.filter(server=server, tool=echo).exists()  # the server keeps its configuration
    assert services.sync_gateway(gateway.pk)["toolsRemoved"] == 0  # already disabled: nothing more to do

    runtime.run_sync(invoke.call_tool, owner, "live-add_tool", {"name": "echo"}, options=CallOptions())
    services.sync_gateway(gateway.pk)
    echo.refresh_from_db()
    assert echo.enabled and services.REMOVED_UPSTREAM_TAG not in echo.tags  # back upstream: enabled again


def test_refresh_endpoint_runs_the_same_sync(runtime, cast, http_server) -> None:
    gateway = services.create_gateway(_owner(cast), {"name": "fixture", "url": f"{http_server.url}/mcp"})
    Tool.objects.filter(gateway=gateway, original_name="echo").delete()
    answer = api_client(cast.owner).post(f"/v1/gateways/{gateway.pk}/tools/refresh").json()
    assert answer["success"] and answer["toolsAdded"] == 1
    assert Tool.objects.filter(gateway=gateway, original_name="echo").exists()
