"""The stdio transport, fed through a stream like a spawning client would."""

from __future__ import annotations

import asyncio
import json

import pytest

from apps.protocols.mcp.auth import Denied
from apps.protocols.mcp.stdio import serve_stdio
from tests.protocols.mcp.fakes import fake_services

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


async def run(lines: list[bytes], **kwargs) -> list[dict]:
    reader = asyncio.StreamReader()
    for line in lines:
        reader.feed_data(line)
    reader.feed_eof()
    out: list[bytes] = []

    async def write(data: bytes) -> None:
        out.append(data)

    await serve_stdio(reader, write, services=fake_services(), **kwargs)
    return [json.loads(chunk) for chunk in out]


async def test_stdio_serves_a_session() -> None:
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "s"}}}
    replies = await run(
        [
            json.dumps(INIT).encode() + b"\n",
            b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n',
            b"\n",
            b"{broken\n",
        ],
        server_id="s1",
        token="good",
    )
    assert replies[0]["result"]["protocolVersion"] == "2025-06-18"
    assert replies[1]["error"]["code"] == -32700
    replies = await run([json.dumps(INIT).encode() + b"\n", json.dumps(call).encode()], server_id="s1", token="good")
    assert sorted(r["id"] for r in replies) == [1, 2]


async def test_stdio_needs_a_valid_token_and_visible_server(settings) -> None:
    settings.MCP_REQUIRE_AUTH = True
    with pytest.raises(Denied) as missing:
        await run([], server_id="s1", token=None)
    assert missing.value.status == 401
    with pytest.raises(Denied) as scoped:
        await run([], server_id="s2", token="scoped")
    assert scoped.value.status == 404
