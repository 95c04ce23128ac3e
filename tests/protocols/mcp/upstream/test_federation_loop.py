"""Two real deployments federating each other: a legitimate chain works, a loop is stopped at once.

Deployments A and B are separate gateway processes, each with its own SQLite database and its
own SECRET_KEY (so each has its own federation hop marker), set up through their REST APIs
only. B federates the fixture upstream U; A federates B's virtual server; B then federates
A's virtual server and its own server is re-pointed at that tool. Every tool keeps its
upstream name inside a server, so a call to ``echo`` on A would go A → B → A → B → ... for
ever: the hop marker stops it when it comes back to A, with JSON-RPC error -32050 naming
the loop, within a bounded time and without tying up either gateway.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from apps.protocols.mcp.errors import FEDERATION_LOOP
from apps.protocols.mcp.upstream.relay import HOPS_META_KEY
from tests.servers import ROOT, ServerProcess, gateway_env, start_gateway

pytestmark = pytest.mark.slow

#: A loop must be reported well inside this many seconds (the upstream timeout is 60).
LOOP_BOUND = 10.0


class Deployment:
    """One gateway deployment of its own: database, keys, admin token, process."""

    def __init__(self, name: str, data_dir: Path) -> None:
        self.name = name
        data_dir.mkdir()
        env = {k: v for k, v in gateway_env().items() if k not in ("REDIS_URL", "DATABASE_URL")}
        env.update(
            DATA_DIR=str(data_dir),
            DATABASE_URL=f"sqlite:///{data_dir / 'gateway.sqlite3'}",
            SECRET_KEY=f"secret-of-deployment-{name}-" + "x" * 40,
            JWT_SECRET_KEY=f"jwt-secret-of-deployment-{name}-" + "y" * 40,
            EMBEDDED_TICKER="false",
            MCP_UPSTREAM_TIMEOUT="60",
        )
        self.env = env
        for command in (["migrate", "--noinput", "-v", "0"], ["bootstrap_admin"]):
            self._manage(*command)
        self.token = self._manage("create_token", "--email", "admin@example.com", "--minutes", "30").strip()
        self.server: ServerProcess = start_gateway(env=env)

    def _manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    @property
    def url(self) -> str:
        """Base URL of the running gateway."""
        return self.server.url

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """A REST call as the deployment's admin; the decoded answer (2xx expected)."""
        response = httpx.request(
            method, f"{self.url}{path}", json=body, headers={"authorization": f"Bearer {self.token}"}, timeout=60
        )
        assert response.is_success, f"{self.name} {method} {path}: {response.status_code} {response.text}"
        return response.json()

    def federate(self, name: str, url: str, token: str) -> dict[str, Any]:
        """Register an upstream MCP endpoint (streamable HTTP, bearer token)."""
        body = {"name": name, "url": url, "auth_type": "bearer", "credentials": {"token": token}}
        return self.api("POST", "/v1/gateways", body)

    def tool_id(self, name: str) -> str:
        """The id of a tool by its gateway-wide name."""
        tools = self.api("GET", "/v1/tools?limit=500")
        return next(t["id"] for t in tools if t["name"] == name)

    def rpc(self, path: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """One JSON-RPC request to an MCP endpoint of this gateway (plain JSON answer)."""
        response = httpx.post(
            f"{self.url}{path}",
            json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
            headers={"authorization": f"Bearer {self.token}"},
            timeout=LOOP_BOUND * 3,
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def deployments(tmp_path: Path, http_server: ServerProcess) -> Iterator[tuple[Deployment, Deployment]]:
    """A and B, running; their processes are stopped afterwards."""
    with ExitStack() as stack:
        pair = []
        for name in ("a", "b"):
            deployment = Deployment(name, tmp_path / name)
            stack.enter_context(deployment.server)
            pair.append(deployment)
        yield pair[0], pair[1]


async def _call(url: str, token: str, tool: str, arguments: dict[str, Any]) -> Any:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=LOOP_BOUND * 3)
    try:
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            return await client.call_tool(tool, arguments)
    except BaseExceptionGroup as group:  # the client's task group wraps the JSON-RPC error
        matched, _ = group.split(MCPError)
        if matched is None:
            raise
        while isinstance(matched, BaseExceptionGroup):
            matched = matched.exceptions[0]
        raise matched from None


def test_chain_works_and_a_loop_between_two_gateways_is_stopped(deployments, http_server) -> None:
    a, b = deployments
    # B federates the fixture upstream U and serves two of its tools in virtual server SB,
    # under their upstream names ("echo", "show_meta").
    b.federate("u", f"{http_server.url}/mcp", "unused")
    meta_tool = b.tool_id("u-show_meta")
    body = {"server": {"name": "sb", "associated_tools": [b.tool_id("u-echo"), meta_tool]}}
    sb = b.api("POST", "/v1/servers", body)["id"]

    # A federates SB: the legitimate chain A → B → U works, and U sees both gateways' hops.
    a.federate("b", f"{b.url}/servers/{sb}/mcp", b.token)
    result = asyncio.run(_call(f"{a.url}/mcp", a.token, "b-echo", {"text": "through two gateways"}))
    assert not result.is_error and result.content[0].text == "through two gateways"
    seen = asyncio.run(_call(f"{a.url}/mcp", a.token, "b-show_meta", {})).structured_content
    hops = seen["meta"][HOPS_META_KEY]
    assert len(hops) == 2 and hops[0] != hops[1]  # A's marker, then B's: one per deployment
    sa = a.api("POST", "/v1/servers", {"server": {"name": "sa", "associated_tools": [a.tool_id("b-echo")]}})["id"]

    # B federates A's SA. Registration only lists A's tools (no call crosses the gateways), so it
    # succeeds; the loop exists once B's SB is re-pointed at that tool: A "echo" → B "echo" → A ...
    registered = b.federate("a", f"{a.url}/servers/{sa}/mcp", a.token)
    assert registered["name"] == "a"
    b.api("PUT", f"/v1/servers/{sb}", {"associated_tools": [b.tool_id("a-echo"), meta_tool]})

    for entry, server in ((a, sa), (b, sb)):
        started = time.monotonic()
        with pytest.raises(MCPError) as exc:
            asyncio.run(_call(f"{entry.url}/servers/{server}/mcp", entry.token, "echo", {"text": "round"}))
        elapsed = time.monotonic() - started
        assert exc.value.code == FEDERATION_LOOP, exc.value
        assert "federation loop" in exc.value.error.message and elapsed < LOOP_BOUND, (exc.value, elapsed)
        assert len(exc.value.error.data["hops"]) == 2  # it came back to the gateway it started from

        # The same over plain JSON-RPC (/rpc, gateway-wide names).
        tool = "b-echo" if entry is a else "a-echo"
        answer = entry.rpc("/rpc", "tools/call", {"name": tool, "arguments": {"text": "round"}})
        assert answer["error"]["code"] == FEDERATION_LOOP and "federation loop" in answer["error"]["message"]

    # Both gateways are still serving, and the chain that does not loop still works.
    b.api("PUT", f"/v1/servers/{sb}", {"associated_tools": [b.tool_id("u-echo"), meta_tool]})
    result = asyncio.run(_call(f"{a.url}/servers/{sa}/mcp", a.token, "echo", {"text": "no loop now"}))
    assert not result.is_error and result.content[0].text == "no loop now"
