"""Upstream OAuth 2.1 authorization code grant through a real gateway process.

A fake authorization server + protected MCP upstream (``tests.fixtures.oauth_upstream``)
auto-approves; an httpx client plays the operator's browser, signed in to the gateway only
(its bearer token is sent to the gateway's origin and nowhere else), and follows the
redirects: gateway ``/oauth/authorize/<id>`` → authorization server → gateway
``/oauth/callback``. The fake server checks PKCE, the redirect URI and the ``resource``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from apps.accounts.services import create_api_token
from apps.accounts.tokens import issue_jwt
from apps.catalog import services, upstream_oauth
from apps.catalog.models import Gateway, OAuthState, OAuthToken, Tool
from apps.protocols.spi import CallOptions
from apps.teams.principals import principal_for_user
from tests.personas import make_personas
from tests.servers import ServerProcess, free_port, gateway_env, start_gateway

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _authorization_server(*flags: str) -> ServerProcess:
    port = free_port()
    argv = [sys.executable, "-m", "tests.fixtures.oauth_upstream", "--port", str(port), *flags]
    return ServerProcess(argv, port=port)


@pytest.fixture(scope="module")
def plain_as() -> Iterator[ServerProcess]:
    """An authorization server knowing only the pre-registered client."""
    with _authorization_server() as srv:
        yield srv


@pytest.fixture(scope="module")
def dcr_as() -> Iterator[ServerProcess]:
    """An authorization server with dynamic client registration."""
    with _authorization_server("--registration") as srv:
        yield srv


@pytest.fixture(scope="module")
def cimd_as() -> Iterator[ServerProcess]:
    """An authorization server that accepts client ID metadata documents (and offers registration too)."""
    with _authorization_server("--cimd", "--registration") as srv:
        yield srv


@pytest.fixture(scope="module")
def gateway(django_db_setup, django_db_blocker) -> Iterator[ServerProcess]:
    """The gateway under test, knowing its public URL and serving its client metadata document."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = gateway_env(PUBLIC_BASE_URL=base, OAUTH_CLIENT_METADATA_URL=f"{base}/oauth/client-metadata.json")
    with django_db_blocker.unblock(), start_gateway(port=port, env=env) as gw:
        yield gw


def _browser(gateway: ServerProcess, user, *, follow: bool = True) -> httpx.Client:
    """The operator's browser: signed in to the gateway (a bearer token sent to its origin only, on
    every hop of a redirect chain), a stranger to the authorization server."""
    token = user if isinstance(user, str) else issue_jwt(user)

    def sign_in(request: httpx.Request) -> None:
        if request.url.port == gateway.port:
            request.headers["Authorization"] = f"Bearer {token}"

    return httpx.Client(event_hooks={"request": [sign_in]}, follow_redirects=follow, timeout=30)


def _stats(server: ServerProcess) -> dict:
    return httpx.get(f"{server.url}/oauth-stats", timeout=5).json()


def _control(server: ServerProcess, **body) -> None:
    httpx.post(f"{server.url}/oauth-control", json=body, timeout=5).raise_for_status()


def _register(owner, upstream: ServerProcess, name: str, **config) -> Gateway:
    return services.create_gateway(
        owner,
        {
            "name": name,
            "url": f"{upstream.url}/mcp",
            "visibility": "public",
            "auth_type": "oauth",
            "credentials": {"config": {"grant_type": "authorization_code", **config}},
        },
    )


def _call_echo(gateway: ServerProcess, user, tool: str, text: str) -> dict:
    """tools/call through the gateway's plain JSON-RPC endpoint."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {"text": text}}}
    headers = {"authorization": f"Bearer {issue_jwt(user)}"}
    return httpx.post(f"{gateway.url}/rpc", json=body, headers=headers, timeout=30).json()


def _start(gateway: ServerProcess, user, gateway_id: str) -> str:
    """Start an authorization and let the authorization server approve it; returns the callback URL."""
    with _browser(gateway, user, follow=False) as browser:
        to_as = browser.get(f"{gateway.url}/oauth/authorize/{gateway_id}")
        assert to_as.status_code == 302, to_as.text
        back = browser.get(to_as.headers["location"])
        assert back.status_code == 302, back.text
        return back.headers["location"]


def test_authorization_code_flow_refresh_and_revocation(gateway, plain_as) -> None:
    cast = make_personas()
    owner = principal_for_user(cast.owner)
    record = _register(owner, plain_as, "coded", client_id="gw-client", client_secret="gw-secret")
    assert not Tool.objects.filter(gateway=record).exists()  # stored, not discovered before authorization
    tool = f"{record.slug}-echo"

    with _browser(gateway, cast.owner) as browser:
        early = browser.post(f"{gateway.url}/v1/gateways/{record.pk}/tools/refresh").json()
        assert "needs authorization" in early["error"] and f"/oauth/authorize/{record.pk}" in early["error"], early
        status = browser.get(f"{gateway.url}/oauth/status/{record.pk}").json()
        assert status["authorized"] is False and status["message"].startswith("needs authorization")
        stats = _stats(plain_as)
        done = browser.get(f"{gateway.url}/oauth/authorize/{record.pk}")
        assert done.status_code == 200, done.text
        result = done.json()
    assert result["authorized"] is True and result["refresh"]["success"] is True, result
    assert result["refresh"]["toolsAdded"] > 0
    after = _stats(plain_as)
    assert after["pkce_verified"] == stats["pkce_verified"] + 1
    assert after["resources"][-1] == f"{plain_as.url}/mcp"  # RFC 8707 resource on the exchange
    assert after["clients"][-1] == "gw-client"

    row = OAuthToken.objects.get(gateway=record)
    raw = upstream_oauth.load_tokens(str(record.pk))
    assert raw["access_token"] and raw["refresh_token"]
    stored = " ".join(str(v) for v in OAuthToken.objects.filter(pk=row.pk).values().first().values())
    assert raw["access_token"] not in stored and raw["refresh_token"] not in stored
    assert row.authorized_by_id == cast.owner.pk

    with _browser(gateway, cast.owner) as browser:
        status = browser.get(f"{gateway.url}/oauth/status/{record.pk}").json()
    assert status["authorized"] is True and status["message"].startswith("authorized until"), status
    assert "access_token" not in str(status) and raw["access_token"] not in str(status)

    called = _call_echo(gateway, cast.owner, tool, "authorized")
    assert called["result"]["content"][0]["text"] == "authorized", called

    # The authorization server expires every access token: the upstream answers 401, the gateway
    # refreshes once, persists the new tokens and the call goes through.
    _control(plain_as, expire_access=True)
    refreshes = _stats(plain_as)["refreshes"]
    called = _call_echo(gateway, cast.owner, tool, "refreshed")
    assert called["result"]["content"][0]["text"] == "refreshed", called
    assert _stats(plain_as)["refreshes"] == refreshes + 1
    renewed = upstream_oauth.load_tokens(str(record.pk))
    assert renewed["access_token"] != raw["access_token"] and renewed["refresh_token"] != raw["refresh_token"]

    # The refresh token is revoked: calls fail saying where to authorize, and the status says so.
    _control(plain_as, expire_access=True, revoke_refresh=True)
    refused = _call_echo(gateway, cast.owner, tool, "revoked")
    message = refused["result"]["content"][0]["text"] if "result" in refused else refused["error"]["message"]
    assert "needs authorization" in message and f"/oauth/authorize/{record.pk}" in message, refused
    assert not OAuthToken.objects.filter(gateway=record).exists()
    with _browser(gateway, cast.owner) as browser:
        status = browser.get(f"{gateway.url}/oauth/status/{record.pk}").json()
    assert status["authorized"] is False and "needs authorization" in status["message"]


def test_dynamic_registration_is_made_once_and_stored_encrypted(gateway, dcr_as) -> None:
    cast = make_personas()
    record = _register(principal_for_user(cast.owner), dcr_as, "registered")
    registrations = _stats(dcr_as)["registrations"]
    for _ in range(2):
        with _browser(gateway, cast.owner) as browser:
            result = browser.get(f"{gateway.url}/oauth/authorize/{record.pk}").json()
        assert result["authorized"] is True and result["refresh"]["success"] is True, result
    stats = _stats(dcr_as)
    assert stats["registrations"] == registrations + 1
    client = upstream_oauth.load_client(str(record.pk))
    assert client["client_id"].startswith("dyn-") and stats["clients"][-1] == client["client_id"]
    assert client["client_secret"] not in Gateway.objects.get(pk=record.pk).oauth_registration
    called = _call_echo(gateway, cast.owner, f"{record.slug}-echo", "registered")
    assert called["result"]["content"][0]["text"] == "registered", called


def test_client_id_metadata_document_is_preferred_to_registration(gateway, cimd_as) -> None:
    cast = make_personas()
    record = _register(principal_for_user(cast.owner), cimd_as, "documented")
    before = _stats(cimd_as)
    with _browser(gateway, cast.owner) as browser:
        result = browser.get(f"{gateway.url}/oauth/authorize/{record.pk}").json()
        document = browser.get(f"{gateway.url}/oauth/client-metadata.json").json()
    assert result["authorized"] is True, result
    after = _stats(cimd_as)
    assert document["client_id"] == f"{gateway.url}/oauth/client-metadata.json"
    assert document["redirect_uris"] == [f"{gateway.url}/oauth/callback"]
    assert after["clients"][-1] == document["client_id"]
    assert after["documents_fetched"] == before["documents_fetched"] + 1
    assert after["registrations"] == before["registrations"]
    called = _call_echo(gateway, cast.owner, f"{record.slug}-echo", "documented")
    assert called["result"]["content"][0]["text"] == "documented", called


def test_state_is_single_use_expiring_and_bound_to_its_user(gateway, plain_as) -> None:
    cast = make_personas()
    record = _register(
        principal_for_user(cast.owner), plain_as, "guarded", client_id="gw-client", client_secret="gw-secret"
    )

    # Replay: the first use completes, the second is refused.
    callback = _start(gateway, cast.owner, record.pk)
    with _browser(gateway, cast.owner) as browser:
        assert browser.get(callback).status_code == 200
        token_before = OAuthToken.objects.get(gateway=record).secret
        replay = browser.get(callback)
    assert replay.status_code == 400 and "already used" in replay.json()["detail"]
    assert OAuthToken.objects.get(gateway=record).secret == token_before

    # Another user presenting the owner's state is refused, and the state is spent.
    callback = _start(gateway, cast.owner, record.pk)
    with _browser(gateway, cast.admin) as browser:
        stolen = browser.get(callback)
    assert stolen.status_code == 403 and "another user" in stolen.json()["detail"]
    with _browser(gateway, cast.owner) as browser:
        assert browser.get(callback).status_code == 400
    assert OAuthToken.objects.get(gateway=record).secret == token_before

    # An expired state is refused.
    callback = _start(gateway, cast.owner, record.pk)
    state = parse_qs(urlsplit(callback).query)["state"][0]
    assert len(state) >= 32 and not OAuthState.objects.filter(state_hash=state).exists()  # only its hash is kept
    OAuthState.objects.update(expires_at="2000-01-01T00:00:00Z")
    with _browser(gateway, cast.owner) as browser:
        late = browser.get(callback)
    assert late.status_code == 400 and "took too long" in late.json()["detail"]
    assert OAuthToken.objects.get(gateway=record).secret == token_before

    # Only callers who may update the gateway can start: a token narrowed to reading gateways may
    # not, an outsider cannot even see the gateway.
    team_gateway = services.create_gateway(
        principal_for_user(cast.owner),
        {
            "name": "team-only",
            "url": f"{plain_as.url}/mcp",
            "team_id": cast.team.pk,
            "visibility": "team",
            "auth_type": "oauth",
            "credentials": {"config": {"grant_type": "authorization_code", "client_id": "gw-client"}},
        },
    )
    pending = OAuthState.objects.count()
    _, reader = create_api_token(cast.member, name="reader", team=cast.team, permissions=["gateways.read"])
    with _browser(gateway, reader, follow=False) as browser:
        assert browser.get(f"{gateway.url}/oauth/status/{team_gateway.pk}").status_code == 200
        assert browser.get(f"{gateway.url}/oauth/authorize/{team_gateway.pk}").status_code == 403
    with _browser(gateway, cast.outsider, follow=False) as browser:
        assert browser.get(f"{gateway.url}/oauth/authorize/{team_gateway.pk}").status_code == 404
        assert browser.get(f"{gateway.url}/oauth/status/{team_gateway.pk}").status_code == 404
    assert OAuthState.objects.count() == pending
    assert not OAuthToken.objects.filter(gateway=team_gateway).exists()


def _authorize_in_process(owner, record: Gateway) -> None:
    """The core's services and this process's runtime, without a gateway process in between."""
    approved = httpx.get(upstream_oauth.begin_authorization(owner, record.pk, request_base="http://127.0.0.1:9"))
    answer = {k: v[0] for k, v in parse_qs(urlsplit(approved.headers["location"]).query).items()}
    result = upstream_oauth.complete_authorization(owner, state=answer["state"], code=answer["code"], iss=answer["iss"])
    assert result["refresh"]["success"] is True, result


def test_sessions_refreshing_at_once_make_one_refresh(registered_runtime, plain_as) -> None:
    """Three sessions (as three workers hold) find their token refused together: one refresh, shared."""
    cast = make_personas()
    owner = principal_for_user(cast.owner)
    record = _register(owner, plain_as, "shared", client_id="gw-client", client_secret="gw-secret")
    _authorize_in_process(owner, record)

    _control(plain_as, expire_access=True)
    before = _stats(plain_as)
    base = services.upstream_target(Gateway.objects.get(pk=record.pk))
    targets = [dataclasses.replace(base, headers={"X-Session": str(n)}) for n in range(3)]

    async def together() -> list:
        calls = [
            registered_runtime.call_tool(t, "echo", {"text": f"s{n}"}, CallOptions()) for n, t in enumerate(targets)
        ]
        return await asyncio.gather(*calls)

    results = registered_runtime.run_sync(together)
    assert [r.content[0]["text"] for r in results] == ["s0", "s1", "s2"]
    after = _stats(plain_as)
    assert after["refreshes"] == before["refreshes"] + 1
    assert after["refused_refreshes"] == before["refused_refreshes"]  # nobody refreshed with a spent token


def test_a_token_past_its_stored_expiry_is_refreshed_before_use(registered_runtime, plain_as) -> None:
    """A session opened after the stored expiry refreshes first (no 401 needed) and persists the result."""
    cast = make_personas()
    owner = principal_for_user(cast.owner)
    record = _register(owner, plain_as, "expiring", client_id="gw-client", client_secret="gw-secret")
    _authorize_in_process(owner, record)
    old = upstream_oauth.load_tokens(record.pk)
    OAuthToken.objects.filter(gateway=record).update(expires_at="2000-01-01T00:00:00Z")
    before = _stats(plain_as)
    target = dataclasses.replace(services.upstream_target(record), headers={"X-Session": "late"})
    result = registered_runtime.run_sync(registered_runtime.call_tool, target, "echo", {"text": "late"}, CallOptions())
    assert result.content[0]["text"] == "late"
    after = _stats(plain_as)
    assert after["refreshes"] == before["refreshes"] + 1
    renewed = OAuthToken.objects.get(gateway=record)
    assert renewed.expires_at.year > 2000
    assert upstream_oauth.load_tokens(record.pk)["access_token"] != old["access_token"]
