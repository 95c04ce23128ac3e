"""Header passthrough through a real gateway process to a real upstream that echoes what it received.

The upstream is the conformance fixture over streamable HTTP: its ``show_meta`` tool answers
with the HTTP headers of the request that carried the call. Gateways are registered through
the catalog services, then called over the gateway's streamable HTTP endpoint (official SDK
client) and its /rpc endpoint with the callers' own headers.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from apps.accounts.tokens import issue_jwt
from apps.catalog import services
from apps.catalog.errors import InvalidInput
from apps.catalog.models import Gateway
from apps.teams.principals import principal_for_user
from tests.personas import api_client, make_personas
from tests.servers import ServerProcess, gateway_env, start_gateway

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VIA = "x-contextforge-via"


@pytest.fixture
def cast():
    """The personas, committed (the gateway process reads them)."""
    return make_personas()


def _register(owner, upstream: ServerProcess, name: str, **fields: Any) -> Gateway:
    return services.create_gateway(
        owner, {"name": name, "url": f"{upstream.url}/mcp", "visibility": "public", **fields}
    )


def _echoed(result: dict[str, Any]) -> dict[str, str]:
    """The headers the upstream saw, from a tools/call result of ``show_meta``."""
    assert not result.get("isError"), result
    seen = result.get("structuredContent") or json.loads(result["content"][0]["text"])
    return seen["headers"]


def _rpc(gateway: ServerProcess, token: str, tool: str, **headers: str) -> dict[str, str]:
    """Call ``tool`` over /rpc with the caller's extra headers; the headers the upstream saw."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {}}}
    response = httpx.post(
        f"{gateway.url}/rpc", json=body, headers={"authorization": f"Bearer {token}", **headers}, timeout=30
    )
    answer = response.json()
    assert response.status_code == 200 and "result" in answer, answer
    return _echoed(answer["result"])


async def _streamable(gateway: ServerProcess, token: str, tool: str, calls: int = 1, **headers: str) -> list[dict]:
    """Call ``tool`` ``calls`` times over the gateway's streamable HTTP endpoint (official SDK client)."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}", **headers}, timeout=30)
    async with http, Client(streamable_http_client(f"{gateway.url}/mcp", http_client=http)) as client:
        seen = []
        for _ in range(calls):
            result = await client.call_tool(tool, {})
            assert not result.is_error, result
            seen.append(result.structured_content["headers"])
        return seen


@pytest.fixture
def passthrough_gateways(registered_runtime, cast, http_server):
    """Four public upstream gateways to the echoing fixture, each with a different passthrough set-up.

    (Each is registered by a different user: a user's resources must have distinct URIs.)
    """
    register = [principal_for_user(user) for user in (cast.owner, cast.admin, cast.member, cast.outsider)]
    _register(register[0], http_server, "echo", passthrough_headers=["X-Tenant-Id"])
    _register(register[1], http_server, "open", passthrough_headers=["authorization"])
    _register(
        register[2],
        http_server,
        "authed",
        passthrough_headers=["Authorization", "X-Tenant-Id"],
        auth_type="bearer",
        credentials={"token": "gateway-secret"},
    )
    _register(register[3], http_server, "defaulted")  # no list of its own: PASSTHROUGH_HEADERS_DEFAULT applies


def test_allowed_headers_reach_the_upstream_and_nothing_else(passthrough_gateways, cast) -> None:
    token = issue_jwt(cast.owner)
    extra = {"x-tenant-id": "t-1", "x-not-allowed": "nope", "x-trace-id": "trace-9", "cookie": "session=abc"}
    env = gateway_env(ENABLE_HEADER_PASSTHROUGH="true", PASSTHROUGH_HEADERS_DEFAULT="X-Trace-Id")
    with start_gateway(env=env) as gateway:
        over_rpc = _rpc(gateway, token, "echo-show_meta", **extra)
        [over_http] = asyncio.run(_streamable(gateway, token, "echo-show_meta", **extra))
        for seen in (over_rpc, over_http):
            assert seen["x-tenant-id"] == "t-1"
            assert "x-not-allowed" not in seen and "x-trace-id" not in seen and "cookie" not in seen
            assert "authorization" not in seen  # not on this gateway's list
            assert seen[VIA] != "" and "," not in seen[VIA]  # only the gateway's own hop marker

        # The gateway's list is empty: the deployment default applies instead.
        seen = _rpc(gateway, token, "defaulted-show_meta", **extra)
        assert seen["x-trace-id"] == "trace-9" and "x-tenant-id" not in seen

        # Authorization explicitly allowed, and the gateway has no auth of its own: the caller's goes on.
        assert _rpc(gateway, token, "open-show_meta", **extra)["authorization"] == f"Bearer {token}"

        # The gateway's credential always wins over a passed-through Authorization (and a warning is logged).
        for seen in (
            _rpc(gateway, token, "authed-show_meta", **extra),
            asyncio.run(_streamable(gateway, token, "authed-show_meta", **extra))[0],
        ):
            assert seen["authorization"] == "Bearer gateway-secret" and seen["x-tenant-id"] == "t-1"
        assert "not forwarding the caller's Authorization to upstream authed" in gateway.output()


def test_switch_off_forwards_nothing(passthrough_gateways, cast) -> None:
    token = issue_jwt(cast.owner)
    extra = {"x-tenant-id": "t-1", "x-trace-id": "trace-9"}
    env = gateway_env(PASSTHROUGH_HEADERS_DEFAULT="X-Trace-Id")  # ENABLE_HEADER_PASSTHROUGH unset: off
    with start_gateway(env=env) as gateway:
        for tool in ("echo-show_meta", "defaulted-show_meta", "open-show_meta"):
            seen = _rpc(gateway, token, tool, **extra)
            assert "x-tenant-id" not in seen and "x-trace-id" not in seen and "authorization" not in seen
        [seen] = asyncio.run(_streamable(gateway, token, "echo-show_meta", **extra))
        assert "x-tenant-id" not in seen


def test_two_callers_each_get_their_own_value(passthrough_gateways, cast) -> None:
    owner_token, admin_token = issue_jwt(cast.owner), issue_jwt(cast.admin)

    async def both() -> tuple[list[dict], ...]:
        return await asyncio.gather(
            _streamable(gateway, owner_token, "echo-show_meta", calls=8, **{"x-tenant-id": "owner-tenant"}),
            _streamable(gateway, admin_token, "echo-show_meta", calls=8, **{"x-tenant-id": "admin-tenant"}),
            _streamable(gateway, owner_token, "echo-show_meta", calls=8),  # none sent: none forwarded
        )

    with start_gateway(env=gateway_env(ENABLE_HEADER_PASSTHROUGH="true")) as gateway:
        owner_seen, admin_seen, bare_seen = asyncio.run(both())
        assert [s["x-tenant-id"] for s in owner_seen] == ["owner-tenant"] * 8
        assert [s["x-tenant-id"] for s in admin_seen] == ["admin-tenant"] * 8
        assert all("x-tenant-id" not in s for s in bare_seen)
        # And over /rpc, alternating callers on the same worker's pool.
        for n in range(4):
            assert _rpc(gateway, owner_token, "echo-show_meta", **{"x-tenant-id": f"o{n}"})["x-tenant-id"] == f"o{n}"
            assert _rpc(gateway, admin_token, "echo-show_meta", **{"x-tenant-id": f"a{n}"})["x-tenant-id"] == f"a{n}"


@pytest.mark.parametrize(
    "names,bad",
    [
        (["X-Tenant-Id", "Connection"], "Connection"),
        (["transfer-encoding"], "transfer-encoding"),
        (["Host"], "Host"),
        (["Mcp-Session-Id"], "Mcp-Session-Id"),
        (["X-Good", "bad header"], "bad header"),
    ],
)
def test_allow_list_is_validated_on_write(cast, names, bad) -> None:
    owner = principal_for_user(cast.owner)
    body = {"name": "upstream", "url": "http://127.0.0.1:9/mcp", "passthroughHeaders": names}
    response = api_client(cast.owner).post("/v1/gateways", body, format="json")
    assert response.status_code == 400, response.content
    message = response.json()["errors"]["passthrough_headers"]
    assert repr(bad) in message
    assert not Gateway.objects.exists()
    with pytest.raises(InvalidInput) as exc:
        services.create_gateway(owner, {"name": "upstream", "url": body["url"], "passthrough_headers": names})
    assert repr(bad) in exc.value.errors["passthrough_headers"]
    if "Connection" in names:
        assert "hop-by-hop" in message
