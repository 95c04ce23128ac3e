"""The pure dispatcher, every revision, against a fake catalog; every result schema-validated."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from apps.protocols.mcp.context import RequestContext, SessionState
from apps.protocols.mcp.dispatcher import handle_bytes, handle_message
from apps.protocols.spi import ANONYMOUS
from tests.protocols.mcp.fakes import FakeCatalog, fake_services
from tests.protocols.mcp.schema import validate_error, validate_notification, validate_result

HANDSHAKE = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]
MODERN = "2026-07-28"


def modern_meta(**extra: Any) -> dict[str, Any]:
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
        **extra,
    }


class Client:
    """Drives the dispatcher like a transport would, collecting notifications."""

    def __init__(self, catalog: FakeCatalog | None = None, *, session: bool = True, headers=None) -> None:
        self.catalog = catalog or FakeCatalog()
        self.sent: list[dict] = []
        self.session = SessionState(id="sess", owner="anonymous") if session else None
        self.next_id = 0

        async def send(message: dict) -> None:
            self.sent.append(message)

        self.context = RequestContext(
            services=fake_services(self.catalog),
            principal=ANONYMOUS,
            server_id="s1",
            session=self.session,
            headers=headers,
            send=send,
            stream_key="stream-1",
        )

    async def request(self, method: str, params: dict | None = None, request_id: Any = None) -> dict:
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": self.next_id if request_id is None else request_id, "method": method}
        if params is not None:
            message["params"] = params
        return await handle_message(self.context, message)

    async def notify(self, method: str, params: dict | None = None) -> Any:
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        return await handle_message(self.context, message)

    async def initialize(self, revision: str) -> dict:
        response = await self.request(
            "initialize", {"protocolVersion": revision, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
        )
        assert await self.notify("notifications/initialized") is None
        return response


def ok(revision: str, method: str, response: dict) -> dict:
    assert "error" not in response, response
    validate_result(revision, method, response["result"])
    return response["result"]


def err(revision: str, response: dict, code: int) -> dict:
    assert response["error"]["code"] == code, response
    validate_error(revision, response)
    return response["error"]


@pytest.mark.parametrize("revision", HANDSHAKE)
async def test_handshake_revision_serves_every_method(revision: str) -> None:
    client = Client()
    init = ok(revision, "initialize", await client.initialize(revision))
    assert init["protocolVersion"] == revision
    assert client.session.protocol_version == revision and client.session.initialized
    ok(revision, "ping", await client.request("ping"))
    tools = ok(revision, "tools/list", await client.request("tools/list"))["tools"]
    assert [t["name"] for t in tools] == ["echo", "fails", "slow", "progress", "ask"]
    assert ("title" in tools[0]) == (revision >= "2025-06-18")
    result = ok(
        revision, "tools/call", await client.request("tools/call", {"name": "echo", "arguments": {"text": "hi"}})
    )
    assert result["content"] == [{"type": "text", "text": "hi"}]
    assert ("structuredContent" in result) == (revision >= "2025-06-18")
    ok(revision, "resources/list", await client.request("resources/list"))
    ok(revision, "resources/templates/list", await client.request("resources/templates/list"))
    read = ok(revision, "resources/read", await client.request("resources/read", {"uri": "test://static-text"}))
    assert read["contents"][0]["text"] == "hello"
    ok(revision, "resources/subscribe", await client.request("resources/subscribe", {"uri": "test://static-text"}))
    assert client.session.subscriptions == ["test://static-text"]
    ok(revision, "resources/unsubscribe", await client.request("resources/unsubscribe", {"uri": "test://static-text"}))
    ok(revision, "prompts/list", await client.request("prompts/list"))
    prompt = ok(
        revision, "prompts/get", await client.request("prompts/get", {"name": "greet", "arguments": {"who": "x"}})
    )
    assert prompt["messages"][0]["content"]["text"] == "Hello x"
    complete = await client.request(
        "completion/complete",
        {"ref": {"type": "ref/prompt", "name": "greet"}, "argument": {"name": "who", "value": "al"}},
    )
    assert ok(revision, "completion/complete", complete)["completion"]["values"] == ["alice", "albert"]
    ok(revision, "logging/setLevel", await client.request("logging/setLevel", {"level": "info"}))
    assert client.session.log_level == "info"
    err(revision, await client.request("server/discover"), -32601)
    err(revision, await client.request("subscriptions/listen", {}), -32601)


async def test_initialize_with_unknown_revision_answers_latest_handshake() -> None:
    client = Client()
    result = (await client.initialize("1999-01-01"))["result"]
    assert result["protocolVersion"] == "2025-11-25"
    result = (await Client().initialize(MODERN))["result"]
    assert result["protocolVersion"] == "2025-11-25"


async def test_request_before_initialize_is_invalid_request() -> None:
    client = Client()
    err("2025-11-25", await client.request("tools/list"), -32600)


async def test_modern_requests_need_no_handshake() -> None:
    client = Client(session=False)
    discover = ok(MODERN, "server/discover", await client.request("server/discover", {"_meta": modern_meta()}))
    assert MODERN in discover["supportedVersions"] and discover["resultType"] == "complete"
    assert discover["_meta"]["io.modelcontextprotocol/serverInfo"]["name"]
    tools = ok(MODERN, "tools/list", await client.request("tools/list", {"_meta": modern_meta()}))
    assert tools["cacheScope"] == "private" and "ttlMs" in tools
    call = {"_meta": modern_meta(), "name": "echo", "arguments": {"text": "x"}}
    assert ok(MODERN, "tools/call", await client.request("tools/call", call))["structuredContent"] == {"text": "x"}
    ok(
        MODERN,
        "resources/read",
        await client.request("resources/read", {"_meta": modern_meta(), "uri": "test://static-text"}),
    )
    ok(
        MODERN,
        "prompts/get",
        await client.request("prompts/get", {"_meta": modern_meta(), "name": "greet", "arguments": {"who": "a"}}),
    )
    for method in ("ping", "logging/setLevel", "resources/subscribe", "initialize"):
        if method == "initialize":
            continue
        err(MODERN, await client.request(method, {"_meta": modern_meta()}), -32601)


async def test_modern_envelope_errors() -> None:
    client = Client(session=False)
    missing = await client.request("tools/list", {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}})
    err(MODERN, missing, -32602)
    bad = modern_meta(**{"io.modelcontextprotocol/protocolVersion": "1900-01-01"})
    error = err(MODERN, await client.request("tools/list", {"_meta": bad}), -32022)
    assert error["data"]["requested"] == "1900-01-01" and MODERN in error["data"]["supported"]


async def test_modern_header_mismatch() -> None:
    headers = {"mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": "foo"}
    client = Client(session=False, headers=headers)
    params = {"_meta": modern_meta(), "name": "echo", "arguments": {"text": "x"}}
    err(MODERN, await client.request("tools/call", params), -32020)
    client.context.headers = {**headers, "mcp-name": "echo"}
    ok(MODERN, "tools/call", await client.request("tools/call", params))
    client.context.headers = {**headers, "mcp-method": "tools/list"}
    err(MODERN, await client.request("tools/call", params), -32020)


@pytest.mark.parametrize("revision", [*HANDSHAKE, MODERN])
async def test_call_errors(revision: str) -> None:
    client = Client()
    extra = {}
    if revision == MODERN:
        client.session = client.context.session = None
        extra = {"_meta": modern_meta()}
    else:
        await client.initialize(revision)
    unknown = await client.request("tools/call", {**extra, "name": "nope", "arguments": {}})
    assert "nope" in err(revision, unknown, -32602)["message"]
    err(revision, await client.request("tools/call", {**extra, "name": "echo", "arguments": {"text": 3}}), -32602)
    err(revision, await client.request("tools/call", {**extra, "name": 5}), -32602)
    err(revision, await client.request("tools/call", {**extra, "name": "echo", "arguments": [1]}), -32602)
    failed = ok(revision, "tools/call", await client.request("tools/call", {**extra, "name": "fails"}))
    assert failed["isError"] is True and failed["content"][0]["text"] == "upstream is down"
    err(revision, await client.request("resources/read", {**extra, "uri": "test://missing"}), -32602)
    err(revision, await client.request("prompts/get", {**extra, "name": "greet"}), -32602)
    err(revision, await client.request("no/such/method", extra), -32601)
    err(revision, await client.request("tools/list", {**extra, "cursor": "forged"}), -32602)


async def test_jsonrpc_envelope_errors() -> None:
    client = Client()
    await client.initialize("2025-11-25")
    assert (await handle_bytes(client.context, b"{not json"))["error"]["code"] == -32700
    assert (await handle_message(client.context, 42))["error"]["code"] == -32600
    assert (await handle_message(client.context, {"id": 1, "method": "ping"}))["error"]["code"] == -32600
    assert (await handle_message(client.context, {"jsonrpc": "2.0", "id": 1}))["error"]["code"] == -32600
    bad_method = await handle_message(client.context, {"jsonrpc": "2.0", "id": 1, "method": 7})
    assert bad_method["error"]["code"] == -32600 and bad_method["id"] == 1
    huge = await handle_message(client.context, {"jsonrpc": "2.0", "id": 2**70, "method": "ping"})
    assert huge["error"]["code"] == -32600 and huge["id"] is None
    float_id = await handle_message(client.context, {"jsonrpc": "2.0", "id": 1.5, "method": "ping"})
    assert float_id["error"]["code"] == -32600
    assert await client.notify("tools/list") is None  # a notification never gets a response
    assert await handle_message(client.context, {"jsonrpc": "2.0", "id": 9, "result": {}}) is None


async def test_batches_only_in_2025_03_26() -> None:
    for revision in HANDSHAKE:
        client = Client()
        await client.initialize(revision)
        batch = [
            {"jsonrpc": "2.0", "id": 1, "method": "ping"},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        ]
        response = await handle_message(client.context, batch)
        if revision == "2025-03-26":
            assert [r["id"] for r in response] == [1, 2]
            validate_result(revision, "tools/list", response[1]["result"])
        else:
            assert response["error"]["code"] == -32600


async def test_pagination_is_deterministic_and_opaque(settings) -> None:
    settings.MCP_LIST_PAGE_SIZE = 100
    client = Client(FakeCatalog(tool_count=250))
    await client.initialize("2025-11-25")
    names, cursor, pages = [], None, 0
    while True:
        params = {"cursor": cursor} if cursor else {}
        result = ok("2025-11-25", "tools/list", await client.request("tools/list", params))
        names += [t["name"] for t in result["tools"]]
        pages += 1
        cursor = result.get("nextCursor")
        if cursor is None:
            break
        assert not cursor.isdigit()
    assert pages == 3 and len(names) == 255 and len(set(names)) == 255
    again = ok("2025-11-25", "tools/list", await client.request("tools/list"))
    assert [t["name"] for t in again["tools"]] == names[:100]


@pytest.mark.parametrize("revision", ["2025-11-25", MODERN])
async def test_progress_and_logs_are_relayed(revision: str) -> None:
    client = Client()
    params: dict[str, Any] = {"name": "progress", "_meta": {"progressToken": "tok"}}
    if revision == MODERN:
        client.session = client.context.session = None
        params["_meta"] = modern_meta(progressToken="tok", **{"io.modelcontextprotocol/logLevel": "debug"})
    else:
        await client.initialize(revision)
        await client.request("logging/setLevel", {"level": "debug"})
    ok(revision, "tools/call", await client.request("tools/call", params))
    methods = [m["method"] for m in client.sent]
    assert methods == ["notifications/progress", "notifications/message"]
    assert client.sent[0]["params"] == {"progressToken": "tok", "progress": 1, "total": 2, "message": "half"}
    for message in client.sent:
        validate_notification(revision, message)


async def test_logs_not_relayed_without_level() -> None:
    client = Client()
    await client.initialize("2025-11-25")
    await client.request("tools/call", {"name": "progress"})
    assert client.sent == []


async def test_cancelled_notification_stops_the_call() -> None:
    catalog = FakeCatalog()
    client = Client(catalog)
    await client.initialize("2025-11-25")
    call = asyncio.create_task(client.request("tools/call", {"name": "slow"}, request_id="c1"))
    await catalog.started.wait()
    assert await client.notify("notifications/cancelled", {"requestId": "c1", "reason": "user"}) is None
    assert await call is None  # a cancelled request gets no response
    assert catalog.cancelled.is_set()


async def test_subscriptions_listen_relays_changes() -> None:
    client = Client(session=False)
    params = {"_meta": modern_meta(), "notifications": {"toolsListChanged": True, "resourceSubscriptions": ["a://x"]}}
    task = asyncio.create_task(client.request("subscriptions/listen", params, request_id="L1"))
    for _ in range(100):
        if client.sent:
            break
        await asyncio.sleep(0.01)
    validate_notification(MODERN, client.sent[0])
    sessions = client.context.services.sessions
    await sessions.publish("catalog.changes", {"kind": "prompts"})
    await sessions.publish("catalog.changes", {"kind": "tools"})
    await sessions.publish("catalog.changes", {"kind": "resource", "uri": "a://x"})
    for _ in range(100):
        if len(client.sent) >= 3:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    methods = [m["method"] for m in client.sent]
    assert methods == [
        "notifications/subscriptions/acknowledged",
        "notifications/tools/list_changed",
        "notifications/resources/updated",
    ]
    for message in client.sent:
        validate_notification(MODERN, message)


async def test_server_request_to_the_client_is_answered() -> None:
    client = Client()
    response = await client.request(
        "initialize",
        {
            "protocolVersion": "2025-11-25",
            "capabilities": {"sampling": {}},
            "clientInfo": {"name": "t", "version": "1"},
        },
    )
    assert "result" in response
    call = asyncio.create_task(client.request("tools/call", {"name": "ask"}, request_id="ask-1"))
    for _ in range(100):
        if client.sent:
            break
        await asyncio.sleep(0.01)
    request = client.sent[0]
    assert request["method"] == "sampling/createMessage"
    from tests.protocols.mcp.schema import validate

    validate("2025-11-25", "CreateMessageRequest", request)
    answer = {"role": "assistant", "content": {"type": "text", "text": "yes"}, "model": "m"}
    assert await handle_message(client.context, {"jsonrpc": "2.0", "id": request["id"], "result": answer}) is None
    result = (await call)["result"]
    assert result["content"][0]["text"] == "client said: yes"


async def test_server_request_needs_the_client_capability() -> None:
    client = Client()
    await client.initialize("2025-11-25")
    result = await client.request("tools/call", {"name": "ask"})
    assert result["error"]["code"] == -32602 and "sampling" in result["error"]["message"]
