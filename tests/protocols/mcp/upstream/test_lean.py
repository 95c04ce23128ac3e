"""The lean tools/call path (direct.py, http1.py) against a scripted streamable-HTTP upstream.

The upstream runs in the test's event loop on 127.0.0.1 and counts the TCP connections that
carried tool calls from the lean client, so keep-alive reuse is measured where it happens.
Its tools misbehave on purpose: chunked and SSE bodies, oversized answers, a connection cut
mid-response, an expired session, a JSON-RPC error.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httptools
import orjson
import pytest

from apps.protocols.mcp.upstream import MCPUpstreamRuntime, PoolConfig
from apps.protocols.spi import CallOptions, CatalogError, UpstreamTarget

from .conftest import TEST_CONFIG

SESSION = "session-1"
TOOLS = ["echo", "chunked", "sse", "big", "cut", "fail", "expire", "ask"]
MODERN = "2026-07-28"


class _Request:
    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.body = b""
        self.done = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode().lower()] = value.decode()

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.done = True


class ScriptedUpstream:
    """A streamable-HTTP MCP server whose tools exercise the lean client's edge cases."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self.lean_connections: set[int] = set()  # connections that carried a call without User-Agent
        self.expired = False
        self.tool_calls = 0
        self.writers: set[asyncio.StreamWriter] = set()
        self.answered: asyncio.Future | None = None  # the client's answer to the "ask" tool's request

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while True:
                request = _Request()
                parser = httptools.HttpRequestParser(request)
                while not request.done:
                    data = await reader.read(65536)
                    if not data:
                        return
                    parser.feed_data(data)
                if parser.get_method() != b"POST":
                    writer.write(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
                    continue
                if not await self._answer(request, writer, id(writer)):
                    return
                await writer.drain()
        except (ConnectionError, httptools.HttpParserError):
            return
        finally:
            self.writers.discard(writer)
            writer.close()

    @staticmethod
    def _json(writer: asyncio.StreamWriter, status: int, payload: Any, extra: str = "") -> None:
        body = orjson.dumps(payload)
        head = f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
        writer.write(head.encode() + body)

    async def _answer(self, request: _Request, writer: asyncio.StreamWriter, conn: int) -> bool:
        message = orjson.loads(request.body)
        method, msg_id, params = message.get("method"), message.get("id"), message.get("params") or {}
        modern = (params.get("_meta") or {}).get("io.modelcontextprotocol/protocolVersion") == MODERN
        if method is None and msg_id == "ask-1" and self.answered is not None:
            self.answered.set_result(message)
            msg_id = None
        if msg_id is None:
            writer.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
            return True
        if method != "initialize" and not modern and request.headers.get("mcp-session-id") != SESSION:
            error = {"code": -32600, "message": "no session"}
            self._json(writer, 400, {"jsonrpc": "2.0", "id": msg_id, "error": error})
            return True
        if method == "initialize":
            self.expired = False  # a new session
        elif self.expired and not modern:
            writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            return True
        done = {"resultType": "complete"} if modern else {}
        if method == "initialize":
            result = {
                "protocolVersion": params["protocolVersion"],
                "capabilities": {"tools": {}, "logging": {}},
                "serverInfo": {"name": "scripted", "version": "1"},
            }
            answer = {"jsonrpc": "2.0", "id": msg_id, "result": result}
            self._json(writer, 200, answer, f"mcp-session-id: {SESSION}\r\n")
            return True
        if method == "server/discover":
            result = {
                "resultType": "complete",
                "supportedVersions": [MODERN],
                "capabilities": {"tools": {}, "logging": {}},
                "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "scripted", "version": "1"}},
            }
            self._json(writer, 200, {"jsonrpc": "2.0", "id": msg_id, "result": result})
            return True
        if method == "tools/list":
            tools = [{"name": n, "inputSchema": {"type": "object"}} for n in TOOLS]
            cache = {"ttlMs": 0, "cacheScope": "private"} if modern else {}
            self._json(writer, 200, {"jsonrpc": "2.0", "id": msg_id, "result": {"tools": tools, **done, **cache}})
            return True
        if method != "tools/call":
            self._json(writer, 200, {"jsonrpc": "2.0", "id": msg_id, "result": done})
            return True
        self.tool_calls += 1
        if "user-agent" not in request.headers:
            self.lean_connections.add(conn)
        name = params["name"]
        text = str((params.get("arguments") or {}).get("text", name))
        answer = {"jsonrpc": "2.0", "id": msg_id, "result": {"content": [{"type": "text", "text": text}], **done}}
        if name == "echo":
            self._json(writer, 200, answer)
        elif name == "chunked":
            body = orjson.dumps(answer)
            thirds = [body[: len(body) // 3], body[len(body) // 3 : 2 * len(body) // 3], body[2 * len(body) // 3 :]]
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
            for part in thirds:
                writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                await writer.drain()
                await asyncio.sleep(0)
            writer.write(b"0\r\n\r\n")
        elif name == "sse":
            token = (params.get("_meta") or {}).get("progressToken")
            events = []
            if token is not None:
                progress = {"progressToken": token, "progress": 1, "total": 2, "message": "half"}
                events.append({"jsonrpc": "2.0", "method": "notifications/progress", "params": progress})
            log = {"level": "warning", "logger": "scripted", "data": "careful"}
            events.append({"jsonrpc": "2.0", "method": "notifications/message", "params": log})
            events.append(answer)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            # A priming event first (an event id and empty data, for resumability), as SDK servers send.
            priming = b"id: prime-1\r\ndata: \r\n\r\n"
            writer.write(b"%x\r\n%s\r\n" % (len(priming), priming))
            for event in events:
                frame = b"event: message\r\ndata: " + orjson.dumps(event) + b"\r\n\r\n"
                writer.write(b"%x\r\n%s\r\n" % (len(frame), frame))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
        elif name == "big":
            answer["result"]["content"][0]["text"] = "x" * 100_000
            self._json(writer, 200, answer)
        elif name == "cut":
            head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n"
            writer.write(head + b'{"jsonrpc"')
            await writer.drain()
            return False
        elif name == "fail":
            error = {"code": -32602, "message": "bad input: text is required", "data": {"field": "text"}}
            self._json(writer, 200, {"jsonrpc": "2.0", "id": msg_id, "error": error})
        elif name == "ask":
            self.answered = asyncio.get_running_loop().create_future()
            ask = {"messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}], "maxTokens": 5}
            request = {"jsonrpc": "2.0", "id": "ask-1", "method": "sampling/createMessage", "params": ask}
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            for event in (request, None):
                if event is None:
                    reply = await asyncio.wait_for(self.answered, 10)
                    answer["result"]["content"][0]["text"] = orjson.dumps(reply).decode()
                    event = answer
                frame = b"data: " + orjson.dumps(event) + b"\n\n"
                writer.write(b"%x\r\n%s\r\n" % (len(frame), frame))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
        elif name == "expire":
            self.expired = True
            writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
        return True


@pytest.fixture
async def upstream() -> AsyncIterator[ScriptedUpstream]:
    server = ScriptedUpstream()
    await server.start()
    yield server
    await server.stop()


def _runtime(**overrides: Any) -> MCPUpstreamRuntime:
    return MCPUpstreamRuntime(dataclasses.replace(TEST_CONFIG, max_response_bytes=16384, **overrides))


def _target(upstream: ScriptedUpstream, version: str | None) -> UpstreamTarget:
    return UpstreamTarget(
        gateway_id="scripted",
        name="scripted",
        transport="STREAMABLEHTTP",
        url=f"http://127.0.0.1:{upstream.port}/mcp",
        protocol_version=version,
    )


@pytest.fixture(params=["2025-11-25", MODERN])
async def setup(request, upstream: ScriptedUpstream) -> AsyncIterator[tuple[MCPUpstreamRuntime, UpstreamTarget]]:
    runtime = _runtime()
    target = _target(upstream, None if request.param == MODERN else request.param)
    # The first call lists the tools (the SDK validates outputs against the listing); later calls go lean.
    await runtime.call_tool(target, "echo", {"text": "warm-up"}, CallOptions())
    yield runtime, target
    await runtime.shutdown()


def _conn(runtime: MCPUpstreamRuntime, target: UpstreamTarget):
    conn = runtime.pool().connection(target)
    assert conn is not None
    return conn


async def test_calls_take_the_lean_path_over_one_kept_alive_connection(setup, upstream: ScriptedUpstream) -> None:
    runtime, target = setup
    for i in range(20):
        result = await runtime.call_tool(target, "echo", {"text": f"hello {i}"}, CallOptions())
        assert result.content == [{"type": "text", "text": f"hello {i}"}]
    conn = _conn(runtime, target)
    assert conn.lean_calls == 20
    assert conn.sdk_calls == 1  # the warm-up
    assert len(upstream.lean_connections) == 1
    assert conn.http is not None and conn.http.connects == 1


async def test_lean_calls_can_be_turned_off(upstream: ScriptedUpstream) -> None:
    runtime = _runtime(lean_calls=False)
    target = _target(upstream, None)
    try:
        for _ in range(3):
            await runtime.call_tool(target, "echo", {"text": "x"}, CallOptions())
        conn = _conn(runtime, target)
        assert (conn.lean_calls, conn.sdk_calls) == (0, 3)
        assert upstream.lean_connections == set()
    finally:
        await runtime.shutdown()


async def test_chunked_and_sse_answers_with_progress_and_logs(setup) -> None:
    runtime, target = setup
    chunked = await runtime.call_tool(target, "chunked", {"text": "in pieces"}, CallOptions())
    assert chunked.content == [{"type": "text", "text": "in pieces"}]

    progress: list[tuple] = []
    logs: list[tuple] = []

    async def on_progress(done, total, message):
        progress.append((done, total, message))

    async def on_log(level, data, logger):
        logs.append((level, data, logger))

    options = CallOptions(on_progress=on_progress, on_log=on_log)
    streamed = await runtime.call_tool(target, "sse", {"text": "streamed"}, options)
    assert streamed.content == [{"type": "text", "text": "streamed"}]
    assert progress == [(1, 2, "half")]
    assert logs == [("warning", "careful", "scripted")]
    conn = _conn(runtime, target)
    assert conn.lean_calls == 2
    assert conn.http.connects == 1  # both bodies were read to the end, so the connection was reused


async def test_oversized_answer_fails_cleanly_and_the_next_call_works(setup) -> None:
    runtime, target = setup
    with pytest.raises(CatalogError) as caught:
        await runtime.call_tool(target, "big", {}, CallOptions())
    assert caught.value.code == "internal"
    assert "too large" in caught.value.message and "16384" in caught.value.message
    result = await runtime.call_tool(target, "echo", {"text": "still fine"}, CallOptions())
    assert result.content == [{"type": "text", "text": "still fine"}]


async def test_connection_cut_mid_response_fails_cleanly_without_a_retry(setup, upstream: ScriptedUpstream) -> None:
    runtime, target = setup
    before = upstream.tool_calls
    with pytest.raises(CatalogError) as caught:
        await runtime.call_tool(target, "cut", {}, CallOptions())
    assert caught.value.code == "unavailable"
    assert "closed the connection mid-response" in caught.value.message
    assert upstream.tool_calls == before + 1  # a tools/call is never sent twice
    result = await runtime.call_tool(target, "echo", {"text": "again"}, CallOptions())
    assert result.content == [{"type": "text", "text": "again"}]


async def test_expired_session_marks_the_connection_lost(upstream: ScriptedUpstream) -> None:
    runtime = _runtime()
    target = _target(upstream, "2025-11-25")
    try:
        await runtime.call_tool(target, "echo", {"text": "warm-up"}, CallOptions())
        conn = _conn(runtime, target)
        assert conn.wire.session_id == SESSION
        before = upstream.tool_calls
        with pytest.raises(CatalogError) as caught:
            await runtime.call_tool(target, "expire", {}, CallOptions())
        assert caught.value.code == "unavailable"
        assert "session" in caught.value.message and "404" in caught.value.message
        assert upstream.tool_calls == before + 1  # not retried
        assert "404" in str(conn.error)  # marked lost: the supervisor opens a new session
        async with asyncio.timeout(10):
            while conn.initializations < 2 or conn.state != "ready":
                await asyncio.sleep(0.01)
        result = await runtime.call_tool(target, "echo", {"text": "new session"}, CallOptions())
        assert result.content == [{"type": "text", "text": "new session"}]
        assert conn.initializations == 2
    finally:
        await runtime.shutdown()


async def test_json_rpc_error_is_the_same_catalog_error_as_on_the_sdk_path(setup, upstream) -> None:
    runtime, target = setup
    with pytest.raises(CatalogError) as lean:
        await runtime.call_tool(target, "fail", {}, CallOptions())
    assert _conn(runtime, target).lean_calls == 1
    sdk_runtime = _runtime(lean_calls=False)
    try:
        with pytest.raises(CatalogError) as sdk:
            await sdk_runtime.call_tool(target, "fail", {}, CallOptions())
    finally:
        await sdk_runtime.shutdown()
    assert (lean.value.code, lean.value.message, lean.value.data) == (
        sdk.value.code,
        sdk.value.message,
        sdk.value.data,
    )
    assert lean.value.code == "invalid_arguments"
    assert "bad input: text is required" in lean.value.message


async def test_upstream_request_on_the_stream_is_answered_and_later_calls_take_the_sdk_path(upstream) -> None:
    runtime = _runtime()
    target = _target(upstream, "2025-11-25")
    try:
        await runtime.call_tool(target, "echo", {"text": "warm-up"}, CallOptions())
        result = await runtime.call_tool(target, "ask", {}, CallOptions())
        reply = orjson.loads(result.content[0]["text"])
        # Answered as the SDK path answers it: the caller cannot serve sampling.
        assert reply["id"] == "ask-1"
        assert "no calling client can answer" in reply["error"]["message"]
        conn = _conn(runtime, target)
        assert conn.upstream_asked and conn.lean_calls == 1
        await runtime.call_tool(target, "echo", {"text": "after"}, CallOptions())
        assert (conn.lean_calls, conn.sdk_calls) == (1, 2)
    finally:
        await runtime.shutdown()


async def test_a_caller_that_can_answer_requests_goes_lean_and_answers_on_its_own_stream(upstream) -> None:
    """Callers that can answer upstream requests (every 2026-07-28 caller can) take the lean path too."""
    runtime = _runtime()
    target = _target(upstream, "2025-11-25")
    asked: list[str] = []

    async def request_client(method: str, params: dict) -> dict:
        asked.append(method)
        return {"role": "assistant", "content": {"type": "text", "text": "from the caller"}, "model": "m"}

    try:
        await runtime.call_tool(target, "echo", {"text": "warm-up"}, CallOptions())
        conn = _conn(runtime, target)
        echoed = await runtime.call_tool(target, "echo", {"text": "lean"}, CallOptions(request_client=request_client))
        assert echoed.content == [{"type": "text", "text": "lean"}]
        assert conn.lean_calls == 1
        result = await runtime.call_tool(target, "ask", {}, CallOptions(request_client=request_client))
        reply = orjson.loads(result.content[0]["text"])
        assert asked == ["sampling/createMessage"]
        assert reply["id"] == "ask-1" and reply["result"]["content"]["text"] == "from the caller"
        assert conn.lean_calls == 2 and conn.upstream_asked
    finally:
        await runtime.shutdown()


def test_setting_turns_the_lean_path_off(settings) -> None:
    settings.MCP_UPSTREAM_LEAN_CALLS = False
    settings.MCP_UPSTREAM_MAX_RESPONSE_BYTES = 4096
    config = PoolConfig.from_settings()
    assert config.lean_calls is False
    assert config.max_response_bytes == 4096
