"""The benchmark's upstreams speak MCP: the official SDK client talks to both, in both eras."""

from __future__ import annotations

import sys

import httpx
import pytest
from mcp import Client

from bench.upstreams.fast import handle_rpc
from tests.servers import ServerProcess, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["fast", "sdk"])
def upstream(request: pytest.FixtureRequest) -> str:
    """A running upstream (fast or SDK); its MCP URL."""
    port = free_port()
    argv = [sys.executable, "-m", f"bench.upstreams.{request.param}", "--port", str(port)]
    with ServerProcess(argv, port=port) as server:
        yield f"{server.url}/mcp"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_sdk_client_lists_and_calls_tools(upstream: str, mode: str) -> None:
    async with Client(upstream, mode=mode) as client:
        tools = await client.list_tools()
        assert {t.name for t in tools.tools} == {"echo", "add"}
        echoed = await client.call_tool("echo", {"text": "hello"})
        assert not echoed.is_error
        assert echoed.content[0].text == "hello"
        added = await client.call_tool("add", {"a": 2, "b": 3})
        assert added.content[0].text == "5"


def test_fast_unknown_tool_is_invalid_params() -> None:
    answer = handle_rpc({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "nope"}})
    assert answer == {"jsonrpc": "2.0", "id": 7, "error": {"code": -32602, "message": "unknown tool: nope"}}


def test_fast_bad_arguments_are_a_tool_error_naming_the_field() -> None:
    call = {"name": "add", "arguments": {"a": 1, "b": "two"}}
    answer = handle_rpc({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call})
    assert answer["result"]["isError"] is True
    assert "'b'" in answer["result"]["content"][0]["text"]


def test_fast_notification_has_no_answer_and_unknown_method_is_reported() -> None:
    assert handle_rpc({"jsonrpc": "2.0", "method": "notifications/initialized"}) is None
    answer = handle_rpc({"jsonrpc": "2.0", "id": 1, "method": "resources/list"})
    assert answer["error"]["code"] == -32601


def test_fast_rejects_garbage_and_oversized_bodies() -> None:
    port = free_port()
    argv = [sys.executable, "-m", "bench.upstreams.fast", "--port", str(port)]
    with ServerProcess(argv, port=port) as server:
        garbage = httpx.post(f"{server.url}/mcp", content=b"{not json")
        assert garbage.status_code == 400
        assert garbage.json()["error"]["code"] == -32700
        huge = httpx.post(f"{server.url}/mcp", content=b"x" * (2 << 20))
        assert huge.status_code == 413
        assert httpx.get(f"{server.url}/mcp").status_code == 405
