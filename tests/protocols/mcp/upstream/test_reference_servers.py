"""Reference MCP servers through the gateway, used with the official SDK client.

@modelcontextprotocol/server-everything (npm) registered over streamable HTTP and over
SSE, and mcp-server-time (PyPI) over stdio: their tools, resources and prompts work
through /servers/<id>/mcp of a real gateway process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from mcp.client import Client

from apps.catalog import services
from apps.teams.principals import principal_for_user
from tests.personas import make_personas
from tests.servers import ROOT, ServerProcess, free_port, gateway_env, start_gateway

from .test_gateway_conformance import bundle

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EVERYTHING = "@modelcontextprotocol/server-everything"
EVERYTHING_VERSION = "2026.8.31"
TOOLS_CACHE = Path(os.environ.get("MCP_TOOLS_CACHE", Path.home() / ".cache" / "mcp-tools"))


def _everything() -> tuple[str, Path]:
    """Node and the server's entry point, installed into the shared tools cache on first use."""
    entry = TOOLS_CACHE / "node_modules" / EVERYTHING / "dist" / "index.js"
    if not entry.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail(f"npm is needed to install {EVERYTHING}")
        TOOLS_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--silent", f"{EVERYTHING}@{EVERYTHING_VERSION}"],
            cwd=TOOLS_CACHE,
            check=True,
            timeout=600,
        )
    cached_node = TOOLS_CACHE / "node_modules" / "node" / "bin" / "node"
    node = str(cached_node) if cached_node.is_file() else shutil.which("node")
    if node is None:
        pytest.fail("node is needed to run the everything server")
    return node, entry


def _listening(port: int) -> bool:
    with contextlib.closing(socket.socket()) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def everything_server(transport: str) -> ServerProcess:
    """server-everything over ``streamableHttp`` or ``sse``, bound to 127.0.0.1."""
    node, entry = _everything()
    port = free_port()
    preload = ROOT / "tests" / "fixtures" / "bind_localhost.cjs"
    return ServerProcess(
        [node, "-r", str(preload), str(entry), transport],
        port=port,
        env={**os.environ, "PORT": str(port)},
        ready=lambda: _listening(port),
    )


@pytest.fixture
def owner():
    return principal_for_user(make_personas().owner)


@pytest.mark.parametrize("transport", ["streamableHttp", "sse"])
async def test_server_everything_through_the_gateway(registered_runtime, owner, transport: str) -> None:
    with contextlib.ExitStack() as stack:
        upstream = stack.enter_context(everything_server(transport))
        path, kind = ("/mcp", "STREAMABLEHTTP") if transport == "streamableHttp" else ("/sse", "SSE")
        data = {"name": "everything", "visibility": "public", "transport": kind, "url": f"{upstream.url}{path}"}
        gateway = await _sync(services.create_gateway, owner, data)
        server_id = await _sync(bundle, owner, gateway)
        gw = stack.enter_context(start_gateway(env=gateway_env(MCP_REQUIRE_AUTH="false")))
        async with Client(f"{gw.url}/servers/{server_id}/mcp", mode="legacy") as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"echo", "get-sum"} <= names
            echoed = await client.call_tool("echo", {"message": "hello"})
            assert "hello" in echoed.content[0].text
            total = await client.call_tool("get-sum", {"a": 2, "b": 3})
            assert "5" in total.content[0].text
            resources = (await client.list_resources()).resources
            assert resources
            read = await client.read_resource(str(resources[0].uri))
            assert read.contents
            prompts = {p.name for p in (await client.list_prompts()).prompts}
            assert "simple-prompt" in prompts
            prompt = await client.get_prompt("simple-prompt")
            assert prompt.messages


async def test_mcp_server_time_over_stdio_through_the_gateway(registered_runtime, owner) -> None:
    data = {
        "name": "time",
        "visibility": "public",
        "transport": "STDIO",
        "command": sys.executable,
        "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"],
    }
    gateway = await _sync(services.create_gateway, owner, data)
    server_id = await _sync(bundle, owner, gateway)
    with start_gateway(env=gateway_env(MCP_REQUIRE_AUTH="false")) as gw:
        async with Client(f"{gw.url}/servers/{server_id}/mcp", mode="legacy") as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"get_current_time", "convert_time"} <= names
            now = await client.call_tool("get_current_time", {"timezone": "Europe/Paris"})
            assert not now.is_error and "Europe/Paris" in now.content[0].text
            converted = await client.call_tool(
                "convert_time", {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}
            )
            assert not converted.is_error and "21:00" in converted.content[0].text


async def _sync(function, *args):
    from asgiref.sync import sync_to_async

    return await sync_to_async(function, thread_sensitive=False)(*args)
