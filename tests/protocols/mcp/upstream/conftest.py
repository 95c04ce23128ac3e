"""Upstream fixtures: the conformance fixture server over each transport, and a fresh runtime."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator

import pytest

from apps.protocols.mcp.upstream import MCPUpstreamRuntime, PoolConfig
from apps.protocols.spi import UpstreamTarget
from tests.servers import ServerProcess, free_port

FIXTURE_MODULE = "tests.fixtures.conformance_server"


def fixture_server(transport: str, port: int | None = None) -> ServerProcess:
    """The conformance fixture served over HTTP (``streamable-http`` or ``sse``); use ``with``."""
    port = port or free_port()
    return ServerProcess(
        [sys.executable, "-m", FIXTURE_MODULE, "--transport", transport, "--port", str(port)], port=port
    )


def http_target(server: ServerProcess, *, gateway_id: str = "http", **kw) -> UpstreamTarget:
    """A streamable-HTTP target for a running fixture."""
    return UpstreamTarget(
        gateway_id=gateway_id, name=f"fixture-{gateway_id}", transport="STREAMABLEHTTP", url=f"{server.url}/mcp", **kw
    )


def sse_target(server: ServerProcess, *, gateway_id: str = "sse", **kw) -> UpstreamTarget:
    """An SSE target for a running fixture."""
    return UpstreamTarget(
        gateway_id=gateway_id, name=f"fixture-{gateway_id}", transport="SSE", url=f"{server.url}/sse", **kw
    )


def ws_target(server: ServerProcess, *, gateway_id: str = "ws", **kw) -> UpstreamTarget:
    """A WebSocket target for a running fixture."""
    return UpstreamTarget(
        gateway_id=gateway_id,
        name=f"fixture-{gateway_id}",
        transport="WEBSOCKET",
        url=f"ws://127.0.0.1:{server.port}/",
        **kw,
    )


def stdio_target(*, gateway_id: str = "stdio", **kw) -> UpstreamTarget:
    """A stdio target that spawns the fixture."""
    return UpstreamTarget(
        gateway_id=gateway_id,
        name=f"fixture-{gateway_id}",
        transport="STDIO",
        command=sys.executable,
        args=("-m", FIXTURE_MODULE),
        **kw,
    )


@pytest.fixture(scope="module")
def http_server() -> Iterator[ServerProcess]:
    """The fixture over streamable HTTP, shared by a module's tests."""
    with fixture_server("streamable-http") as server:
        yield server


@pytest.fixture(scope="module")
def sse_server() -> Iterator[ServerProcess]:
    """The fixture over SSE, shared by a module's tests."""
    with fixture_server("sse") as server:
        yield server


@pytest.fixture(scope="module")
def ws_server() -> Iterator[ServerProcess]:
    """The fixture over WebSocket, shared by a module's tests."""
    with fixture_server("websocket") as server:
        yield server


TEST_CONFIG = PoolConfig(
    call_timeout=20.0,
    connect_timeout=10.0,
    max_concurrency=8,
    breaker_threshold=50,
    breaker_cooldown=1.0,
    retry_backoff=0.05,
    restart_backoff_max=0.5,
    instance_id="test-gateway",
)


@pytest.fixture
async def runtime() -> AsyncIterator[MCPUpstreamRuntime]:
    """A runtime with test limits; its sessions (and stdio processes) are closed afterwards."""
    rt = MCPUpstreamRuntime(TEST_CONFIG)
    yield rt
    await rt.shutdown()


@pytest.fixture
def registered_runtime():
    """A real MCP runtime registered with the core for one test (its sessions closed afterwards)."""
    from apps.catalog import runtimes

    rt = MCPUpstreamRuntime(TEST_CONFIG)
    runtimes.register_runtime("MCP", rt)
    yield rt
    runtimes.unregister_runtime("MCP", rt)
    rt.background.stop()
