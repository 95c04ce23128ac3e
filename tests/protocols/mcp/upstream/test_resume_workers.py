"""2026-07-28 multi round-trip across two real gateway processes sharing the database and Redis.

The upstream (the conformance fixture) asks for sampling and elicitation; the first round
is answered by gateway A, and the client's retries land on gateway B (or alternate), as
they would behind a load balancer without sticky routing.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

import httpx
import mcp_types as types
import pytest

from apps.accounts.services import create_api_token
from apps.catalog import services
from apps.teams.principals import principal_for_user
from tests.personas import make_personas
from tests.protocols.mcp.schema import validate
from tests.servers import ServerProcess, gateway_env, start_gateway

from .conftest import fixture_server
from .test_gateway_conformance import bundle

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

MODERN = "2026-07-28"
ACK_TIMEOUT = 1
SAMPLED = {"role": "assistant", "content": {"type": "text", "text": "hello"}, "model": "m"}


@dataclass
class Gateways:
    """Two gateways serving one virtual server that bundles the fixture upstream."""

    a: ServerProcess
    b: ServerProcess
    server_id: str
    owner_token: str
    outsider_token: str

    def call(self, gateway: ServerProcess, request_id: int, params: dict, *, token: str | None = None) -> dict:
        """POST a 2026-07-28 tools/call to ``gateway``; return the JSON-RPC response to it."""
        headers = {
            "accept": "application/json, text/event-stream",
            "authorization": f"Bearer {token or self.owner_token}",
            "mcp-protocol-version": MODERN,
            "mcp-method": "tools/call",
            "mcp-name": params["name"],
        }
        meta = {
            types.PROTOCOL_VERSION_META_KEY: MODERN,
            types.CLIENT_CAPABILITIES_META_KEY: {"sampling": {}, "elicitation": {}},
            types.CLIENT_INFO_META_KEY: {"name": "raw", "version": "1"},
        }
        body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {**params, "_meta": meta}}
        url = f"{gateway.url}/servers/{self.server_id}/mcp"
        response = httpx.post(url, json=body, headers=headers, timeout=30)
        assert response.status_code in (200, 400), response.text
        if response.headers["content-type"].startswith("text/event-stream"):
            messages = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
            return next(m for m in messages if m.get("id") == request_id)
        return response.json()


@pytest.fixture
def gateways(redis_url, registered_runtime):
    personas = make_personas()
    owner = principal_for_user(personas.owner)
    _, owner_token = create_api_token(personas.owner, name="resume owner")
    _, outsider_token = create_api_token(personas.outsider, name="resume outsider")
    with fixture_server("streamable-http") as upstream:
        gateway = services.create_gateway(
            owner,
            {"name": "fixture", "visibility": "public", "transport": "STREAMABLEHTTP", "url": f"{upstream.url}/mcp"},
        )
        server_id = bundle(owner, gateway)
        env = gateway_env(REDIS_URL=redis_url, MCP_REQUIRE_AUTH="true", MCP_RESUME_ACK_TIMEOUT=str(ACK_TIMEOUT))
        with start_gateway(env=env) as a, start_gateway(env=env) as b:
            yield Gateways(a, b, server_id, owner_token, outsider_token)


def _round(response: dict) -> tuple[str, dict]:
    """The request state and the single input request of an input_required response."""
    result = response["result"]
    validate(MODERN, "InputRequiredResult", result)
    assert result["resultType"] == "input_required"
    [(key, request)] = result["inputRequests"].items()
    return result["requestState"], {"key": key, **request}


def _refused(response: dict) -> str:
    """The message of a JSON-RPC invalid-params error naming the request state."""
    assert response["error"]["code"] == -32602, response
    assert "requestState" in response["error"]["message"]
    return response["error"]["message"]


def test_retry_on_b_completes_the_call_suspended_on_a(gateways: Gateways) -> None:
    g = gateways
    sampling = {"name": "test_sampling", "arguments": {"prompt": "hi"}}
    state, asked = _round(g.call(g.a, 1, sampling))
    assert asked["method"] == "sampling/createMessage"
    assert asked["params"]["messages"][0]["content"]["text"] == "hi"
    retry = {**sampling, "inputResponses": {asked["key"]: SAMPLED}, "requestState": state}
    done = g.call(g.b, 2, retry)["result"]
    validate(MODERN, "CallToolResult", done)
    assert done["resultType"] == "complete" and done["content"][0]["text"] == "LLM response: hello"
    # The state is spent on both workers.
    _refused(g.call(g.b, 3, retry))
    _refused(g.call(g.a, 4, retry))


def test_rounds_alternate_between_workers(gateways: Gateways) -> None:
    g = gateways
    call = {"name": "test_sampling_then_elicitation", "arguments": {"prompt": "2+2?"}}
    state, asked = _round(g.call(g.a, 1, call))
    assert asked["method"] == "sampling/createMessage"
    answer = {"role": "assistant", "content": {"type": "text", "text": "4"}, "model": "m"}
    retry = {**call, "inputResponses": {asked["key"]: answer}, "requestState": state}
    next_state, asked = _round(g.call(g.b, 2, retry))
    assert asked["method"] == "elicitation/create" and asked["params"]["message"] == "LLM said 4; your name?"
    elicited = {"action": "accept", "content": {"name": "ada"}}
    retry = {**call, "inputResponses": {asked["key"]: elicited}, "requestState": next_state}
    done = g.call(g.a, 3, retry)["result"]
    assert done["resultType"] == "complete"
    assert done["content"][0]["text"] == 'LLM said 4; user response: action=accept, content={"name": "ada"}'


def test_forged_and_foreign_states_are_refused(gateways: Gateways) -> None:
    g = gateways
    sampling = {"name": "test_sampling", "arguments": {"prompt": "mine"}}
    state, asked = _round(g.call(g.a, 1, sampling))
    retry = {**sampling, "inputResponses": {asked["key"]: SAMPLED}, "requestState": state}
    unknown = _refused(g.call(g.b, 2, {**retry, "requestState": "forged"}))
    assert "unknown" in unknown
    # Gateway A's worker id with a guessed secret: A itself answers, at once.
    guessed = f"{state.split('.')[0]}.{secrets.token_urlsafe(24)}"
    started = time.monotonic()
    assert _refused(g.call(g.b, 3, {**retry, "requestState": guessed})) == unknown
    assert time.monotonic() - started < ACK_TIMEOUT
    # Another principal holding the state is refused like an unknown state ...
    assert _refused(g.call(g.b, 4, retry, token=g.outsider_token)) == unknown
    assert _refused(g.call(g.a, 5, retry, token=g.outsider_token)) == unknown
    # ... and changed nothing: the caller who started the call still completes it.
    done = g.call(g.b, 6, retry)["result"]
    assert done["content"][0]["text"] == "LLM response: hello"


def test_a_retry_whose_worker_is_gone_fails_within_the_bound(gateways: Gateways) -> None:
    g = gateways
    sampling = {"name": "test_sampling", "arguments": {"prompt": "anyone?"}}
    state, asked = _round(g.call(g.a, 1, sampling))
    g.a.stop()
    retry = {**sampling, "inputResponses": {asked["key"]: SAMPLED}, "requestState": state}
    started = time.monotonic()
    message = _refused(g.call(g.b, 2, retry))
    assert time.monotonic() - started < ACK_TIMEOUT + 3
    assert f"did not answer within {ACK_TIMEOUT}s" in message and "expired or unknown request state" in message
    # B is unharmed: a new call is served and resumed there.
    state, asked = _round(g.call(g.b, 3, sampling))
    retry = {**sampling, "inputResponses": {asked["key"]: SAMPLED}, "requestState": state}
    assert g.call(g.b, 4, retry)["result"]["content"][0]["text"] == "LLM response: hello"
