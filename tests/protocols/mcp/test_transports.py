"""The HTTP and WebSocket transports on a live socket, with the fake SPI behind them."""

from __future__ import annotations

import asyncio
import json

import httpx
import orjson
import pytest
import websockets

from tests.protocols.mcp.schema import validate_result

AUTH = {"authorization": "Bearer good"}
ACCEPT = {"accept": "application/json, text/event-stream"}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def sse_messages(text: str) -> list[dict]:
    """The JSON data of every SSE event in a response body."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        data = [line[5:].strip() for line in block.split("\n") if line.startswith("data:")]
        if data:
            out.append(json.loads("\n".join(data)))
    return out


async def until_keepalive(lines) -> None:
    """Wait for the stream's first keep-alive comment: it is subscribed and live."""
    async for line in lines:
        if line.startswith(":"):
            return
    raise AssertionError("stream ended")


async def open_session(client: httpx.AsyncClient, url: str, headers: dict | None = None) -> str:
    response = await client.post(url, json=INIT, headers={**AUTH, **ACCEPT, **(headers or {})})
    assert response.status_code == 200, response.text
    validate_result("2025-11-25", "initialize", response.json()["result"])
    session_id = response.headers["mcp-session-id"]
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    answer = await client.post(url, json=note, headers={**AUTH, **ACCEPT, "mcp-session-id": session_id})
    assert answer.status_code == 202
    return session_id


async def test_streamable_session_lifecycle(gateway) -> None:
    url = f"{gateway.url}/servers/s1/mcp"
    async with httpx.AsyncClient(timeout=10) as client:
        session_id = await open_session(client, url)
        headers = {**AUTH, **ACCEPT, "mcp-session-id": session_id, "mcp-protocol-version": "2025-11-25"}
        listed = await client.post(url, json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers=headers)
        assert listed.status_code == 200 and listed.headers["content-type"] == "application/json"
        validate_result("2025-11-25", "tools/list", listed.json()["result"])
        gone = await client.delete(url, headers=headers)
        assert gone.status_code == 200
        after = await client.post(url, json={"jsonrpc": "2.0", "id": 3, "method": "tools/list"}, headers=headers)
        assert after.status_code == 404
        assert (await client.get(url, headers=headers)).status_code == 404
        assert (await client.delete(url, headers=headers)).status_code == 404


async def test_session_is_bound_to_its_caller_and_server(gateway) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        session_id = await open_session(client, f"{gateway.url}/servers/s1/mcp")
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        other_server = await client.post(
            f"{gateway.url}/servers/s2/mcp", json=ping, headers={**AUTH, **ACCEPT, "mcp-session-id": session_id}
        )
        assert other_server.status_code == 404
        other_caller = await client.post(
            f"{gateway.url}/servers/s1/mcp",
            json=ping,
            headers={"authorization": "Bearer scoped", **ACCEPT, "mcp-session-id": session_id},
        )
        assert other_caller.status_code == 404


async def test_progress_switches_the_answer_to_sse(gateway) -> None:
    url = f"{gateway.url}/servers/s1/mcp"
    async with httpx.AsyncClient(timeout=10) as client:
        session_id = await open_session(client, url)
        call = {
            "jsonrpc": "2.0",
            "id": 5,
            "method": "tools/call",
            "params": {"name": "progress", "_meta": {"progressToken": 7}},
        }
        response = await client.post(url, json=call, headers={**AUTH, **ACCEPT, "mcp-session-id": session_id})
        assert response.headers["content-type"].startswith("text/event-stream")
        messages = sse_messages(response.text)
        assert messages[0]["method"] == "notifications/progress" and messages[0]["params"]["progressToken"] == 7
        assert messages[-1]["id"] == 5 and messages[-1]["result"]["content"][0]["text"] == "done"


async def test_modern_request_without_session(gateway) -> None:
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"_meta": meta, "name": "echo", "arguments": {"text": "m"}},
    }
    headers = {**AUTH, **ACCEPT, "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "echo"}
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(f"{gateway.url}/servers/s1/mcp", json=body, headers=headers)
        assert response.status_code == 200 and "mcp-session-id" not in response.headers
        validate_result("2026-07-28", "tools/call", response.json()["result"])
        mismatch = await client.post(
            f"{gateway.url}/servers/s1/mcp", json=body, headers={**headers, "mcp-name": "other"}
        )
        assert mismatch.status_code == 400 and mismatch.json()["error"]["code"] == -32020
        assert (await client.get(f"{gateway.url}/servers/s1/mcp", headers=headers)).status_code == 405


async def test_get_stream_delivers_changes_and_resumes(gateway) -> None:
    url = f"{gateway.url}/servers/s1/mcp"
    async with httpx.AsyncClient(timeout=10) as client:
        session_id = await open_session(client, url)
        headers = {**AUTH, "accept": "text/event-stream", "mcp-session-id": session_id}
        seen: list[tuple[str, dict]] = []
        async with client.stream("GET", url, headers=headers) as stream:
            assert stream.status_code == 200
            lines = stream.aiter_lines()
            await until_keepalive(lines)
            publish = gateway.services.sessions.publish
            await asyncio.wrap_future(_on_server(gateway, publish("catalog.changes", {"kind": "tools"})))
            await asyncio.wrap_future(_on_server(gateway, publish("catalog.changes", {"kind": "prompts"})))
            event_id = None
            async for line in lines:
                if line.startswith("id:"):
                    event_id = line[3:].strip()
                if line.startswith("data:"):
                    seen.append((event_id, json.loads(line[5:])))
                    if len(seen) == 2:
                        break
        assert [m["method"] for _, m in seen] == [
            "notifications/tools/list_changed",
            "notifications/prompts/list_changed",
        ]
        first_id = seen[0][0]
        async with client.stream("GET", url, headers={**headers, "last-event-id": first_id}) as resumed:
            async for line in resumed.aiter_lines():
                if line.startswith("data:"):
                    assert json.loads(line[5:])["method"] == "notifications/prompts/list_changed"
                    break


def _on_server(gateway, coro):
    """Run a coroutine on the live server's event loop (where its channel layer lives)."""
    loop = gateway.loop()
    return asyncio.run_coroutine_threadsafe(coro, loop)


async def test_auth_challenge_and_metadata(gateway) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(f"{gateway.url}/servers/s1/mcp", json=INIT, headers=ACCEPT)
        assert response.status_code == 401
        challenge = response.headers["www-authenticate"]
        assert (
            'resource_metadata="' in challenge and "/.well-known/oauth-protected-resource/servers/s1/mcp" in challenge
        )
        metadata_url = challenge.split('resource_metadata="')[1].split('"')[0]
        document = (await client.get(metadata_url)).json()
        assert document["resource"].endswith("/servers/s1/mcp") and document["authorization_servers"]
        bad = await client.post(f"{gateway.url}/mcp", json=INIT, headers={**ACCEPT, "authorization": "Bearer nope"})
        assert bad.status_code == 401 and "invalid_token" in bad.headers["www-authenticate"]
        for path in ("/sse", "/rpc", "/servers/s1/sse"):
            assert (await client.request("GET" if "sse" in path else "POST", f"{gateway.url}{path}")).status_code == 401


async def test_scoped_token_sees_only_its_server(gateway) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        scoped = {"authorization": "Bearer scoped", **ACCEPT}
        assert (await client.post(f"{gateway.url}/servers/s1/mcp", json=INIT, headers=scoped)).status_code == 200
        assert (await client.post(f"{gateway.url}/servers/s2/mcp", json=INIT, headers=scoped)).status_code == 404
        assert (
            await client.post(f"{gateway.url}/servers/s2/mcp", json=INIT, headers={**AUTH, **ACCEPT})
        ).status_code == 200
        assert (
            await client.post(f"{gateway.url}/servers/nope/mcp", json=INIT, headers={**AUTH, **ACCEPT})
        ).status_code == 404


async def test_anonymous_allowed_when_auth_not_required(gateway, settings) -> None:
    settings.MCP_REQUIRE_AUTH = False
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.post(f"{gateway.url}/servers/s1/mcp", json=INIT, headers=ACCEPT)).status_code == 200


async def test_dns_rebinding_is_refused(gateway) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        evil = {**AUTH, **ACCEPT, "origin": "http://evil.example"}
        assert (await client.post(f"{gateway.url}/servers/s1/mcp", json=INIT, headers=evil)).status_code == 403
        rebound = {**AUTH, **ACCEPT, "host": "evil.example"}
        assert (await client.post(f"{gateway.url}/servers/s1/mcp", json=INIT, headers=rebound)).status_code == 403
        local = {**AUTH, **ACCEPT, "origin": f"http://localhost:{gateway.port}"}
        assert (await client.post(f"{gateway.url}/servers/s1/mcp", json=INIT, headers=local)).status_code == 200


async def test_oversized_and_malformed_bodies(gateway) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        huge = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"' + b"a" * (10 * 1024 * 1024) + b'"}}'
        for path in ("/servers/s1/mcp", "/rpc"):
            response = await client.post(f"{gateway.url}{path}", content=huge, headers={**AUTH, **ACCEPT})
            assert response.status_code == 413 and response.json()["error"]["code"] == -32600
            bad = await client.post(f"{gateway.url}{path}", content=b"{", headers={**AUTH, **ACCEPT})
            assert bad.status_code == 400 and bad.json()["error"]["code"] == -32700
        deep = b"[" * 100_000 + b"]" * 100_000
        response = await client.post(f"{gateway.url}/rpc", content=deep, headers=AUTH)
        assert response.status_code == 400 and response.json()["error"]["code"] == -32700


async def test_rpc_endpoint(gateway) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        call = {
            "jsonrpc": "2.0",
            "id": "a",
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"text": "r"}},
        }
        response = await client.post(f"{gateway.url}/rpc", json=call, headers=AUTH)
        assert response.json()["result"]["content"][0]["text"] == "r"
        note = await client.post(f"{gateway.url}/rpc", json={"jsonrpc": "2.0", "method": "x"}, headers=AUTH)
        assert note.status_code == 202


async def test_legacy_sse_sessions_never_cross(gateway) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        streams = []
        for _ in range(2):
            cm = client.stream("GET", f"{gateway.url}/servers/s1/sse", headers=AUTH)
            stream = await cm.__aenter__()
            lines = stream.aiter_lines()
            endpoint = None
            async for line in lines:
                if line.startswith("data:"):
                    endpoint = line[5:].strip()
                    break
            streams.append((cm, lines, endpoint))
        (_, lines_a, endpoint_a), (_, lines_b, endpoint_b) = streams
        assert endpoint_a != endpoint_b and endpoint_a.startswith("/servers/s1/message?session_id=")
        init_a = {**INIT, "id": "from-a"}
        assert (await client.post(f"{gateway.url}{endpoint_a}", json=init_a, headers=AUTH)).status_code == 202
        init_b = {**INIT, "id": "from-b"}
        assert (await client.post(f"{gateway.url}{endpoint_b}", json=init_b, headers=AUTH)).status_code == 202

        async def next_message(lines) -> dict:
            async for line in lines:
                if line.startswith("data:"):
                    return json.loads(line[5:])
            raise AssertionError("stream ended")

        assert (await next_message(lines_a))["id"] == "from-a"
        assert (await next_message(lines_b))["id"] == "from-b"
        for cm, _, _ in streams:
            await cm.__aexit__(None, None, None)


async def test_websocket(gateway) -> None:
    uri = f"ws://127.0.0.1:{gateway.port}/servers/s1/ws"
    async with websockets.connect(uri, subprotocols=["mcp"], additional_headers=AUTH) as ws:
        assert ws.subprotocol == "mcp"
        await ws.send(orjson.dumps(INIT).decode())
        init = json.loads(await ws.recv())
        validate_result("2025-11-25", "initialize", init["result"])
        await ws.send('{"jsonrpc":"2.0","method":"notifications/initialized"}')
        await ws.send(
            '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"w"}}}'
        )
        assert json.loads(await ws.recv())["result"]["content"][0]["text"] == "w"
        await ws.send("not json")
        assert json.loads(await ws.recv())["error"]["code"] == -32700
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(uri, subprotocols=["mcp"]):
            pass
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(
            uri, subprotocols=["mcp"], additional_headers={**AUTH, "origin": "http://evil.example"}
        ):
            pass


async def test_draining_module_refuses_new_work(gateway) -> None:
    from apps.protocols.registry import ModuleState, registry

    mcp = registry.get("mcp")
    before = mcp.state
    mcp.state = ModuleState.DRAINING
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(f"{gateway.url}/servers/s1/mcp", json=INIT, headers={**AUTH, **ACCEPT})
            assert response.status_code == 503 and response.headers["retry-after"]
    finally:
        mcp.state = before
