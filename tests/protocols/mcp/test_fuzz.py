"""Fuzzing the dispatcher and the HTTP transport: only well-formed JSON-RPC comes back, never a 5xx."""

from __future__ import annotations

import asyncio
import json

import httpx
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.protocols.mcp.context import RequestContext, SessionState
from apps.protocols.mcp.dispatcher import handle_bytes, handle_message
from apps.protocols.spi import ANONYMOUS
from tests.protocols.mcp.fakes import fake_services

ERROR_CODES = {-32700, -32600, -32601, -32602, -32603, -32020, -32021, -32022}
METHODS = [
    "initialize", "ping", "server/discover", "tools/list", "tools/call", "resources/list", "resources/read",
    "resources/templates/list", "resources/subscribe", "resources/unsubscribe", "prompts/list", "prompts/get",
    "completion/complete", "logging/setLevel", "notifications/initialized", "notifications/cancelled", "x/y",
]  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
ids = st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.text(max_size=30) | st.floats()
meta = st.fixed_dictionaries(
    {},
    optional={
        "io.modelcontextprotocol/protocolVersion": st.sampled_from(["2026-07-28", "2025-11-25", "1900-01-01"])
        | json_values,
        "io.modelcontextprotocol/clientCapabilities": st.just({}) | json_values,
        "progressToken": ids,
        "io.modelcontextprotocol/logLevel": st.sampled_from(["debug", "bogus"]) | json_values,
    },
)
params = (
    st.fixed_dictionaries(
        {},
        optional={
            "_meta": meta | json_values,
            "name": st.sampled_from(["echo", "fails", "progress", "greet", "nope"]) | json_values,
            "arguments": st.just({"text": "x"}) | json_values,
            "uri": st.just("test://static-text") | json_values,
            "cursor": json_values,
            "protocolVersion": st.sampled_from(["2024-11-05", "2025-03-26", "2026-07-28"]) | json_values,
            "level": st.sampled_from(["info", "nope"]) | json_values,
            "ref": json_values,
            "argument": json_values,
            "requestId": ids,
        },
    )
    | json_values
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.just("2.0") | json_values,
        "id": ids,
        "method": st.sampled_from(METHODS) | json_values,
        "params": params,
        "result": json_values,
    },
)
bodies = messages | st.lists(messages, max_size=4) | json_values


def check_response(response) -> None:
    """A reply is None or well-formed JSON-RPC (a batch reply: a list of them) that serializes."""
    if response is None:
        return
    orjson.dumps(response)
    for item in response if isinstance(response, list) else [response]:
        assert item["jsonrpc"] == "2.0" and "id" in item
        assert ("result" in item) != ("error" in item)
        if "error" in item:
            assert item["error"]["code"] in ERROR_CODES and isinstance(item["error"]["message"], str)


def new_context(revision: str | None) -> RequestContext:
    session = SessionState(id="fuzz", owner="anonymous", protocol_version=revision, initialized=True)

    async def send(message: dict) -> None:
        orjson.dumps(message)

    return RequestContext(services=fake_services(), principal=ANONYMOUS, server_id="s1", session=session, send=send)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies, revision=st.sampled_from([None, "2024-11-05", "2025-03-26", "2025-11-25"]))
def test_dispatcher_answers_any_message_well(body, revision) -> None:
    response = asyncio.run(asyncio.wait_for(handle_message(new_context(revision), body), 5))
    check_response(response)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_dispatcher_answers_any_bytes_well(raw) -> None:
    check_response(asyncio.run(asyncio.wait_for(handle_bytes(new_context("2025-11-25"), raw), 5)))


def test_dispatcher_survives_pathological_documents() -> None:
    for raw in (
        b"[" * 50_000,
        b'{"a":' * 50_000,
        b"9" * 5000,
        b'{"jsonrpc":"2.0","id":' + b"9" * 400 + b',"method":"ping"}',
    ):
        check_response(asyncio.run(handle_bytes(new_context("2025-11-25"), raw)))


def test_http_transport_answers_any_body_well(gateway) -> None:
    headers = {"authorization": "Bearer good", "accept": "application/json, text/event-stream"}
    client = httpx.Client(timeout=10, headers=headers)

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(body=bodies, path=st.sampled_from(["/servers/s1/mcp", "/mcp", "/rpc"]))
    def post(body, path) -> None:
        response = client.post(f"{gateway.url}{path}", content=json.dumps(body))
        assert response.status_code < 500
        if response.content and response.headers.get("content-type") == "application/json":
            check_response(response.json())

    with client:
        post()
