"""End to end: a gateway process serving real catalog data (local REST tools on a real HTTP API,
resources, prompts) to the official SDK clients and a WebSocket client, with bearer tokens."""

from __future__ import annotations

import json

import httpx
import httpx2
import orjson
import pytest
import websockets
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.catalog.conftest import http_backend  # noqa: F401 - fixture re-export
from tests.protocols.mcp.catalog_data import build_catalog
from tests.protocols.mcp.schema import validate_result
from tests.protocols.mcp.test_transports import until_keepalive
from tests.servers import gateway_env, start_gateway

pytestmark = pytest.mark.slow


@pytest.fixture
def live(transactional_db, http_backend):  # noqa: F811
    data = build_catalog(http_backend, visibility="private")
    with start_gateway(env=gateway_env(MCP_REQUIRE_AUTH="true", MCP_SSE_KEEPALIVE="1")) as gateway:
        yield gateway, data


async def exercise(client: Client) -> None:
    names = [t.name for t in (await client.list_tools()).tools]
    assert names == sorted(names) and {"echo", "test_simple_text", "test_error_handling"} <= set(names)
    result = await client.call_tool("echo", {"text": "from the sdk"})
    assert not result.is_error and json.loads(result.content[0].text)["body"] == {"text": "from the sdk"}
    failed = await client.call_tool("test_error_handling", {})
    assert failed.is_error and "HTTP 500" in failed.content[0].text
    text = await client.read_resource("test://static-text")
    assert text.contents[0].text == "This is the content of the static text resource."
    binary = await client.read_resource("test://static-binary")
    assert binary.contents[0].blob and binary.contents[0].mime_type == "image/png"
    prompt = await client.get_prompt("test_prompt_with_arguments", {"arg1": "a", "arg2": "b"})
    assert prompt.messages[0].content.text == "Prompt with arguments: arg1='a', arg2='b'"
    templates = await client.list_resource_templates()
    assert templates.resource_templates[0].uri_template == "test://template/{id}/data"


async def test_sdk_and_websocket_clients_against_the_catalog(live) -> None:
    gateway, data = live
    token = {"Authorization": f"Bearer {data.token}"}
    url = f"{gateway.url}/servers/{data.server_id}"
    for mode in ("auto", "legacy"):
        http = httpx2.AsyncClient(headers=token, timeout=20)
        async with http, Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode) as client:
            await exercise(client)
            assert client.session.protocol_version == ("2026-07-28" if mode == "auto" else "2025-11-25")
    async with Client(sse_client(f"{url}/sse", headers=token), mode="legacy") as client:
        await exercise(client)
    ws_url = f"ws://127.0.0.1:{gateway.port}/servers/{data.server_id}/ws"
    async with websockets.connect(ws_url, subprotocols=["mcp"], additional_headers=token) as ws:
        init = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "w", "version": "1"},
            },
        }
        await ws.send(orjson.dumps(init).decode())
        validate_result("2025-06-18", "initialize", json.loads(await ws.recv())["result"])
        await ws.send('{"jsonrpc":"2.0","method":"notifications/initialized"}')
        for request_id, method, params in [
            (2, "tools/list", {}),
            (3, "tools/call", {"name": "test_simple_text", "arguments": {}}),
            (4, "resources/read", {"uri": "test://static-text"}),
            (5, "prompts/get", {"name": "test_simple_prompt"}),
        ]:
            await ws.send(
                orjson.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}).decode()
            )
            reply = json.loads(await ws.recv())
            assert reply["id"] == request_id
            validate_result("2025-06-18", method, reply["result"])


async def test_tokens_and_visibility(live) -> None:
    gateway, data = live
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    accept = {"accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(timeout=20) as client:
        scoped = {**accept, "authorization": f"Bearer {data.scoped_token}"}
        main = f"{gateway.url}/servers/{data.server_id}/mcp"
        other = f"{gateway.url}/servers/{data.other_server_id}/mcp"
        assert (await client.post(main, json=init, headers=scoped)).status_code == 404
        assert (await client.post(other, json=init, headers=scoped)).status_code == 200
        anonymous = await client.post(main, json=init, headers=accept)
        assert anonymous.status_code == 401 and "resource_metadata=" in anonymous.headers["www-authenticate"]
        assert (
            await client.post(main, json=init, headers={**accept, "authorization": "Bearer nope"})
        ).status_code == 401
        # The gateway-wide endpoint lists every visible tool under namespaced names.
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        rpc = await client.post(f"{gateway.url}/rpc", json=listing, headers={"authorization": f"Bearer {data.token}"})
        assert len(rpc.json()["result"]["tools"]) == 4


async def test_catalog_changes_reach_open_streams(live) -> None:
    gateway, data = live
    token = {"authorization": f"Bearer {data.token}"}
    url = f"{gateway.url}/servers/{data.server_id}/mcp"
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    async with httpx.AsyncClient(timeout=20) as client:
        opened = await client.post(url, json=init, headers={**token, "accept": "application/json, text/event-stream"})
        session = {**token, "mcp-session-id": opened.headers["mcp-session-id"], "accept": "text/event-stream"}
        async with client.stream("GET", url, headers=session) as stream:
            lines = stream.aiter_lines()
            await until_keepalive(lines)
            created = await client.post(
                f"{gateway.url}/v1/tools",
                json={"name": "brand_new", "url": "http://127.0.0.1:9/x", "visibility": "private"},
                headers=token,
            )
            assert created.status_code == 201, created.text
            async for line in lines:
                if line.startswith("data:"):
                    assert json.loads(line[5:])["method"] == "notifications/tools/list_changed"
                    break
