"""Sessions across workers: two gateway processes sharing the database and Redis serve one session together.

The last test runs two real gateways over real catalog data; the others use the fake catalog
(tests/protocols/mcp/fake_asgi.py) for tools that wait forever or ask the client a question.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.catalog.conftest import http_backend  # noqa: F401 - fixture re-export
from tests.protocols.mcp.catalog_data import build_catalog
from tests.protocols.mcp.test_transports import until_keepalive
from tests.servers import VENV_BIN, ServerProcess, free_port, gateway_env, start_gateway

pytestmark = [pytest.mark.slow, pytest.mark.redis]

AUTH = {"authorization": "Bearer good"}
ACCEPT = {"accept": "application/json, text/event-stream"}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def worker(redis_url: str) -> ServerProcess:
    port = free_port()
    argv = [str(VENV_BIN / "uvicorn"), "tests.protocols.mcp.fake_asgi:application", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--lifespan", "on"]
    return ServerProcess(
        argv, port=port, env=gateway_env(REDIS_URL=redis_url, MCP_REQUIRE_AUTH="true", MCP_SSE_KEEPALIVE="1")
    )


@pytest.fixture
def two_workers(redis_url, transactional_db):
    with worker(redis_url) as a, worker(redis_url) as b:
        yield a, b


async def next_data(lines) -> str:
    async for line in lines:
        if line.startswith("data:"):
            return line[5:].strip()
    raise AssertionError("stream ended")


async def test_legacy_sse_stream_on_a_receives_replies_posted_to_b(two_workers) -> None:
    a, b = two_workers
    client = httpx.AsyncClient(timeout=15)
    async with client, client.stream("GET", f"{a.url}/servers/s1/sse", headers=AUTH) as stream:
        lines = stream.aiter_lines()
        endpoint = await next_data(lines)
        posted = await client.post(f"{b.url}{endpoint}", json=INIT, headers=AUTH)
        assert posted.status_code == 202
        reply = json.loads(await next_data(lines))
        assert reply["id"] == 1 and reply["result"]["protocolVersion"] == "2024-11-05"
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert (await client.post(f"{b.url}{endpoint}", json=note, headers=AUTH)).status_code == 202
        params = {"name": "echo", "arguments": {"text": "x"}}
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": params}
        assert (await client.post(f"{b.url}{endpoint}", json=call, headers=AUTH)).status_code == 202
        reply = json.loads(await next_data(lines))
        assert reply["id"] == 2 and reply["result"]["content"][0]["text"] == "x"


async def test_streamable_session_moves_between_workers(two_workers) -> None:
    a, b = two_workers
    init = {**INIT, "params": {**INIT["params"], "protocolVersion": "2025-11-25"}}
    async with httpx.AsyncClient(timeout=15) as client:
        opened = await client.post(f"{a.url}/servers/s1/mcp", json=init, headers={**AUTH, **ACCEPT})
        session = {"mcp-session-id": opened.headers["mcp-session-id"], **AUTH, **ACCEPT}
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert (await client.post(f"{b.url}/servers/s1/mcp", json=note, headers=session)).status_code == 202
        level = {"jsonrpc": "2.0", "id": 2, "method": "logging/setLevel", "params": {"level": "debug"}}
        assert (await client.post(f"{b.url}/servers/s1/mcp", json=level, headers=session)).status_code == 200
        call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "progress"}}
        # The log level set through worker B governs the call served by worker A.
        answer = await client.post(f"{a.url}/servers/s1/mcp", json=call, headers=session)
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert '"notifications/message"' in answer.text
        async with client.stream("GET", f"{a.url}/servers/s1/mcp", headers=session) as stream:
            assert stream.status_code == 200
            lines = stream.aiter_lines()
            await until_keepalive(lines)
            assert (await client.delete(f"{b.url}/servers/s1/mcp", headers=session)).status_code == 200
            async for _ in lines:
                pass  # the stream held by A ends when B ends the session
        assert (await client.post(f"{a.url}/servers/s1/mcp", json=call, headers=session)).status_code == 404


async def test_cancellation_reaches_the_worker_running_the_call(two_workers) -> None:
    a, b = two_workers
    init = {**INIT, "params": {**INIT["params"], "protocolVersion": "2025-11-25"}}
    async with httpx.AsyncClient(timeout=30) as client:
        opened = await client.post(f"{a.url}/servers/s1/mcp", json=init, headers={**AUTH, **ACCEPT})
        session = {"mcp-session-id": opened.headers["mcp-session-id"], **AUTH, **ACCEPT}
        call = {"jsonrpc": "2.0", "id": "slow-1", "method": "tools/call", "params": {"name": "slow"}}
        running = asyncio.create_task(client.post(f"{a.url}/servers/s1/mcp", json=call, headers=session))
        await asyncio.sleep(1)
        assert not running.done()
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "slow-1"}}
        assert (await client.post(f"{b.url}/servers/s1/mcp", json=cancel, headers=session)).status_code == 202
        answer = await asyncio.wait_for(running, 20)
        # A cancelled request gets no JSON-RPC response: the POST ends without one.
        assert answer.status_code in (200, 202) and '"slow-1"' not in answer.text


async def test_client_answer_posted_to_b_reaches_the_call_on_a(two_workers) -> None:
    a, b = two_workers
    params = {
        "protocolVersion": "2025-11-25",
        "capabilities": {"sampling": {}},
        "clientInfo": {"name": "t", "version": "1"},
    }
    async with httpx.AsyncClient(timeout=30) as client:
        opened = await client.post(
            f"{a.url}/servers/s1/mcp", json={**INIT, "params": params}, headers={**AUTH, **ACCEPT}
        )
        session = {"mcp-session-id": opened.headers["mcp-session-id"], **AUTH, **ACCEPT}
        call = {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "ask"}}
        async with client.stream("POST", f"{a.url}/servers/s1/mcp", json=call, headers=session) as stream:
            lines = stream.aiter_lines()
            request = json.loads(await next_data(lines))
            assert request["method"] == "sampling/createMessage"
            answer = {"role": "assistant", "content": {"type": "text", "text": "via b"}, "model": "m"}
            reply = {"jsonrpc": "2.0", "id": request["id"], "result": answer}
            assert (await client.post(f"{b.url}/servers/s1/mcp", json=reply, headers=session)).status_code == 202
            result = json.loads(await next_data(lines))
            assert result["id"] == 9 and result["result"]["content"][0]["text"] == "client said: via b"


@pytest.fixture
def real_catalog(transactional_db, http_backend):  # noqa: F811
    return build_catalog(http_backend, visibility="private")


async def test_two_real_gateways_share_sessions(redis_url, real_catalog) -> None:
    """Real catalog, real auth: a session opened on gateway A is served by gateway B and vice versa."""
    data = real_catalog
    token = {"authorization": f"Bearer {data.token}"}
    env = gateway_env(REDIS_URL=redis_url, MCP_REQUIRE_AUTH="true", MCP_SSE_KEEPALIVE="1")
    with start_gateway(env=env) as a, start_gateway(env=env) as b:
        client = httpx.AsyncClient(timeout=20)
        sse_url = f"{a.url}/servers/{data.server_id}/sse"
        async with client, client.stream("GET", sse_url, headers=token) as stream:
            lines = stream.aiter_lines()
            endpoint = await next_data(lines)
            assert (await client.post(f"{b.url}{endpoint}", json=INIT, headers=token)).status_code == 202
            assert json.loads(await next_data(lines))["result"]["protocolVersion"] == "2024-11-05"
            params = {"name": "echo", "arguments": {"text": "across"}}
            call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": params}
            assert (await client.post(f"{b.url}{endpoint}", json=call, headers=token)).status_code == 202
            reply = json.loads(await next_data(lines))
            assert json.loads(reply["result"]["content"][0]["text"])["body"] == {"text": "across"}

            init = {**INIT, "params": {**INIT["params"], "protocolVersion": "2025-11-25"}}
            mcp_a, mcp_b = (f"{g.url}/servers/{data.server_id}/mcp" for g in (a, b))
            opened = await client.post(mcp_a, json=init, headers={**token, **ACCEPT})
            session = {**token, **ACCEPT, "mcp-session-id": opened.headers["mcp-session-id"]}
            listed = await client.post(mcp_b, json={"jsonrpc": "2.0", "id": 3, "method": "tools/list"}, headers=session)
            assert len(listed.json()["result"]["tools"]) == 4
            async with client.stream("GET", mcp_a, headers=session) as events:
                lines = events.aiter_lines()
                await until_keepalive(lines)
                new_tool = {"name": "added_on_b", "url": "http://127.0.0.1:9/x", "visibility": "private"}
                assert (await client.post(f"{b.url}/v1/tools", json=new_tool, headers=token)).status_code == 201
                change = json.loads(await next_data(lines))
                assert change["method"] == "notifications/tools/list_changed"
                assert (await client.delete(mcp_b, headers=session)).status_code == 200
            ping = {"jsonrpc": "2.0", "id": 4, "method": "ping"}
            assert (await client.post(mcp_a, json=ping, headers=session)).status_code == 404


async def test_a_tool_disabled_on_b_is_gone_on_a_at_once(redis_url, real_catalog) -> None:
    """Gateway A memoises its catalog reads; a write on gateway B is seen by A's very next call."""
    data = real_catalog
    token = {"authorization": f"Bearer {data.token}", **ACCEPT}
    env = gateway_env(REDIS_URL=redis_url, MCP_REQUIRE_AUTH="true")
    with start_gateway(env=env) as a, start_gateway(env=env) as b:
        async with httpx.AsyncClient(timeout=20) as client:
            mcp_a = f"{a.url}/servers/{data.server_id}/mcp"
            init = {**INIT, "params": {**INIT["params"], "protocolVersion": "2025-11-25"}}
            opened = await client.post(mcp_a, json=init, headers=token)
            session = {**token, "mcp-session-id": opened.headers["mcp-session-id"]}
            call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call"}
            call["params"] = {"name": "echo", "arguments": {"text": "warm"}}

            async def names() -> set[str]:
                listed = await client.post(
                    mcp_a, json={"jsonrpc": "2.0", "id": 3, "method": "tools/list"}, headers=session
                )
                return {t["name"] for t in listed.json()["result"]["tools"]}

            for _ in range(2):  # the second round is served from A's memo
                assert "echo" in await names()
                assert "result" in (await client.post(mcp_a, json=call, headers=session)).json()
            tools = (await client.get(f"{b.url}/v1/tools", headers=token)).json()
            rows = tools["items"] if isinstance(tools, dict) else tools
            echo = next(t for t in rows if t["name"] == "echo" or t.get("originalName") == "echo")
            state = await client.post(f"{b.url}/v1/tools/{echo['id']}/state?activate=false", headers=token)
            assert state.status_code == 200, state.text
            assert "echo" not in await names()
            assert "error" in (await client.post(mcp_a, json=call, headers=session)).json()
