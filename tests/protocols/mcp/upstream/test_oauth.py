"""Upstream OAuth 2.1 (client credentials, with the RFC 9728 → RFC 8414 discovery chain)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import httpx
import pytest

from apps.catalog import services
from apps.catalog.models import Gateway, Tool
from apps.protocols.mcp.upstream import MCPUpstreamRuntime
from apps.protocols.spi import CallOptions, CatalogError, UpstreamTarget
from apps.teams.principals import principal_for_user
from tests.personas import make_personas
from tests.servers import ServerProcess, free_port

pytestmark = pytest.mark.slow

CLIENT = {"grant_type": "client_credentials", "client_id": "gw-client", "client_secret": "gw-secret"}


@pytest.fixture(scope="module")
def protected() -> Iterator[ServerProcess]:
    """The fixture behind OAuth, with its authorization server on the same origin."""
    port = free_port()
    with ServerProcess([sys.executable, "-m", "tests.fixtures.oauth_upstream", "--port", str(port)], port=port) as srv:
        yield srv


def _target(server: ServerProcess, gateway_id: str, **oauth) -> UpstreamTarget:
    return UpstreamTarget(
        gateway_id=gateway_id,
        name=f"oauth-{gateway_id}",
        transport="STREAMABLEHTTP",
        url=f"{server.url}/mcp",
        oauth=oauth,
    )


async def test_client_credentials_token_is_obtained_once_and_reused(runtime: MCPUpstreamRuntime, protected) -> None:
    before = httpx.get(f"{protected.url}/oauth-stats").json()["token_requests"]
    target = _target(protected, "cc", **CLIENT, issuer=protected.url)
    found = await runtime.discover(target)
    assert "test_simple_text" in {t.name for t in found.tools}
    for _ in range(5):
        result = await runtime.call_tool(target, "echo", {"text": "authorized"}, CallOptions())
        assert result.content[0]["text"] == "authorized"
    assert httpx.get(f"{protected.url}/oauth-stats").json()["token_requests"] == before + 1


async def test_wrong_client_secret_or_no_oauth_fails_clearly(runtime: MCPUpstreamRuntime, protected) -> None:
    with pytest.raises(CatalogError) as bad:
        await runtime.discover(_target(protected, "bad", **{**CLIENT, "client_secret": "nope"}, issuer=protected.url))
    assert "oauth-bad" in bad.value.message
    with pytest.raises(CatalogError) as anonymous:
        await runtime.discover(_target(protected, "anon"))
    assert "oauth-anon" in anonymous.value.message
    with pytest.raises(CatalogError) as unsupported:
        await runtime.discover(_target(protected, "code", grant_type="password", client_id="x"))
    assert "not supported" in unsupported.value.message


@pytest.mark.django_db(transaction=True)
def test_gateway_with_oauth_credentials_registers(registered_runtime, protected) -> None:
    owner = principal_for_user(make_personas().owner)
    config = {**CLIENT, "issuer": protected.url}
    gateway = services.create_gateway(
        owner,
        {"name": "guarded", "url": f"{protected.url}/mcp", "auth_type": "oauth", "credentials": {"config": config}},
    )
    assert Tool.objects.filter(gateway=gateway, original_name="echo").exists()
    assert "gw-secret" not in Gateway.objects.get(pk=gateway.pk).auth_secret  # encrypted at rest
