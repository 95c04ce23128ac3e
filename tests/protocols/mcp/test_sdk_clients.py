"""The official MCP SDK clients against the gateway: streamable HTTP (modern and legacy) and SSE."""

from __future__ import annotations

import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CreateMessageResult, TextContent

TOKEN = {"Authorization": "Bearer good"}


async def exercise(client: Client) -> None:
    tools = await client.list_tools()
    assert [t.name for t in tools.tools] == ["echo", "fails", "slow", "progress", "ask"]
    result = await client.call_tool("echo", {"text": "sdk"})
    assert result.content[0].text == "sdk" and not result.is_error
    failed = await client.call_tool("fails", {})
    assert failed.is_error
    contents = await client.read_resource("test://static-text")
    assert contents.contents[0].text == "hello"
    prompt = await client.get_prompt("greet", {"who": "sdk"})
    assert prompt.messages[0].content.text == "Hello sdk"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_streamable_http(gateway, mode: str) -> None:
    http = httpx2.AsyncClient(headers=TOKEN, timeout=10)
    async with http, Client(streamable_http_client(f"{gateway.url}/servers/s1/mcp", http_client=http), mode=mode) as c:
        await exercise(c)
        expected = "2026-07-28" if mode == "auto" else "2025-11-25"
        assert c.session.protocol_version == expected


async def test_legacy_sse(gateway) -> None:
    async with Client(sse_client(f"{gateway.url}/servers/s1/sse", headers=TOKEN), mode="legacy") as client:
        await exercise(client)


async def sample(context, params):
    return CreateMessageResult(role="assistant", content=TextContent(type="text", text="sure"), model="fake")


async def test_sampling_round_trip_over_streamable_http(gateway) -> None:
    http = httpx2.AsyncClient(headers=TOKEN, timeout=10)
    transport = streamable_http_client(f"{gateway.url}/servers/s1/mcp", http_client=http)
    async with http, Client(transport, mode="legacy", sampling_callback=sample) as client:
        result = await client.call_tool("ask", {})
        assert result.content[0].text == "client said: sure"


async def test_sampling_round_trip_over_sse(gateway) -> None:
    transport = sse_client(f"{gateway.url}/servers/s1/sse", headers=TOKEN)
    async with Client(transport, mode="legacy", sampling_callback=sample) as client:
        result = await client.call_tool("ask", {})
        assert result.content[0].text == "client said: sure"
