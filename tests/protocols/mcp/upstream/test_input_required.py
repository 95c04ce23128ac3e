"""2026-07-28 multi round-trip through a real gateway process.

A 2026-07-28 client calls a federated tool whose upstream asks for sampling or
elicitation: the gateway answers ``input_required`` (validated against the schema),
keeps the upstream call suspended, and resumes it when the client retries with
``inputResponses``. The official SDK client drives the rounds with its callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx2
import mcp_types as types
import pytest
from mcp import Client

from apps.catalog import services
from apps.teams.principals import principal_for_user
from tests.personas import make_personas
from tests.protocols.mcp.schema import validate
from tests.servers import gateway_env, start_gateway

from .conftest import fixture_server
from .test_gateway_conformance import bundle

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MODERN = "2026-07-28"


@contextlib.contextmanager
def federated_fixture():
    """A gateway process serving one virtual server bundling the fixture upstream; yields its MCP URL."""
    owner = principal_for_user(make_personas().owner)
    with fixture_server("streamable-http") as upstream:
        gateway = services.create_gateway(
            owner,
            {"name": "fixture", "visibility": "public", "transport": "STREAMABLEHTTP", "url": f"{upstream.url}/mcp"},
        )
        server_id = bundle(owner, gateway)
        with start_gateway(env=gateway_env(MCP_REQUIRE_AUTH="false")) as gw:
            yield f"{gw.url}/servers/{server_id}/mcp"


async def _sampling(context, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
    asked = params.messages[0].content.text
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text=f"answer to {asked}"), model="test-model"
    )


async def _elicitation(context, params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"username": "ada", "email": "ada@example.com"})


def test_sdk_client_completes_sampling_and_elicitation_rounds(registered_runtime) -> None:
    async def scenario(url: str) -> None:
        async with Client(url, mode=MODERN, sampling_callback=_sampling, elicitation_callback=_elicitation) as client:
            assert client.session.protocol_version == MODERN
            sampled = await client.call_tool("test_sampling", {"prompt": "what is 2+2"})
            assert not sampled.is_error, sampled
            assert sampled.content[0].text == "LLM response: answer to what is 2+2"
            elicited = await client.call_tool("test_elicitation", {"message": "who are you"})
            assert not elicited.is_error, elicited
            assert elicited.content[0].text == (
                'User response: action=accept, content={"username": "ada", "email": "ada@example.com"}'
            )

    with federated_fixture() as url:
        asyncio.run(scenario(url))


def _post(url: str, request_id: int, params: dict) -> dict:
    headers = {
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": MODERN,
        "mcp-method": "tools/call",
        "mcp-name": params["name"],
    }
    meta = {
        types.PROTOCOL_VERSION_META_KEY: MODERN,
        types.CLIENT_CAPABILITIES_META_KEY: {"sampling": {}},
        types.CLIENT_INFO_META_KEY: {"name": "raw", "version": "1"},
    }
    body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {**params, "_meta": meta}}
    response = httpx2.post(url, json=body, headers=headers, timeout=30)
    assert response.status_code in (200, 400), response.text
    if response.headers["content-type"].startswith("text/event-stream"):
        messages = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
        return next(m for m in messages if m.get("id") == request_id)
    message = response.json()
    assert (response.status_code == 400) == ("error" in message), message
    return message


def test_input_required_result_is_valid_and_resumes_once(registered_runtime) -> None:
    with federated_fixture() as url:
        first = _post(url, 1, {"name": "test_sampling", "arguments": {"prompt": "hi"}})
        result = first["result"]
        validate(MODERN, "InputRequiredResult", result)
        assert result["resultType"] == "input_required"
        [(key, request)] = result["inputRequests"].items()
        assert request["method"] == "sampling/createMessage"
        assert request["params"]["messages"][0]["content"]["text"] == "hi"
        answer = {"role": "assistant", "content": {"type": "text", "text": "hello"}, "model": "m"}
        retry = {
            "name": "test_sampling",
            "arguments": {"prompt": "hi"},
            "inputResponses": {key: answer},
            "requestState": result["requestState"],
        }
        done = _post(url, 2, retry)["result"]
        validate(MODERN, "CallToolResult", done)
        assert done["resultType"] == "complete" and done["content"][0]["text"] == "LLM response: hello"
        # The state is spent: a second retry with it is refused, naming the field.
        again = _post(url, 3, retry)
        assert again["error"]["code"] == -32602 and "requestState" in again["error"]["message"]
        # Another tool cannot use the state either.
        stolen = _post(url, 4, {**retry, "name": "test_elicitation", "arguments": {"message": "x"}})
        assert "requestState" in stolen["error"]["message"]
