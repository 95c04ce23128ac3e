"""The gateway under test, in its production shape: ``make serve`` (N workers, chosen ASGI server).

PostgreSQL and Redis are used when DATABASE_URL / REDIS_URL are set in the environment, else the
embedded default (SQLite in a fresh data directory, in-memory layers). The platform admin is
bootstrapped, logs in through the REST API for a bearer token, registers an upstream
(/v1/gateways) and bundles its tools into a virtual server (/v1/servers).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.procs import GroupServer, free_port

__all__ = ["PLUGIN_CHAIN_ENV", "Gateway", "GatewayServer", "SetupUnavailable"]

ROOT = Path(__file__).resolve().parent.parent
LOGIN_PATHS = ("/v1/auth/login", "/v1/auth/email/login")
# Plugin chain hook: ``python -m bench --plugins a.b.Plugin,c.d.Plugin`` starts a second gateway with
# this setting (the plugins app's list of dotted paths) next to the default one (empty chain), and
# drives the same stateless path on both: the difference is the cost of the chain.
PLUGIN_CHAIN_ENV = "PLUGINS"


class SetupUnavailable(RuntimeError):
    """The gateway does not (yet) offer what a path needs; the path is reported as not wired."""


@dataclass
class GatewayServer:
    """A virtual server on the gateway: its id, the bearer token and the tool names it exposes."""

    base_url: str
    server_id: str
    token: str
    tools: dict[str, str] = field(default_factory=dict)  # upstream tool name -> name in this server
    rpc_tools: dict[str, str] = field(default_factory=dict)  # upstream tool name -> catalog-wide name (/rpc)

    @property
    def mcp_url(self) -> str:
        """The virtual server's streamable HTTP endpoint."""
        return f"{self.base_url}/servers/{self.server_id}/mcp"

    @property
    def rpc_url(self) -> str:
        """The gateway's JSON-RPC endpoint."""
        return f"{self.base_url}/rpc"

    @property
    def auth(self) -> dict[str, str]:
        """The Authorization header."""
        return {"Authorization": f"Bearer {self.token}"}


class Gateway:
    """The gateway served by ``make serve``; use as a context manager."""

    def __init__(
        self, *, server: str = "uvicorn", workers: int = 2, port: int | None = None, plugins: str = ""
    ) -> None:
        self.server = server
        self.workers = workers
        self.port = port or free_port()
        self.plugins = plugins
        # unique per run: a PostgreSQL database keeps the users and gateways of earlier runs
        self.run_id = secrets.token_hex(4)
        self.admin_email = f"admin-{self.run_id}@bench.example.com"
        self.admin_password = secrets.token_urlsafe(24)
        self._data = tempfile.TemporaryDirectory(prefix="bench-gateway-")
        self.process: GroupServer | None = None
        self._token: str | None = None

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port>"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def shape(self) -> str:
        """``postgresql+redis`` or ``embedded``, as this run serves."""
        return "postgresql+redis" if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL") else "embedded"

    def env(self) -> dict[str, str]:
        """Production settings with fresh secrets; DATABASE_URL/REDIS_URL pass through from the caller."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "BENCH_"))}
        env.update(
            DJANGO_ENV="production",
            DEBUG="false",
            SECRET_KEY=secrets.token_hex(32),
            JWT_SECRET_KEY=secrets.token_hex(32),
            ALLOWED_HOSTS="127.0.0.1,localhost",
            # plain HTTP on loopback stands for the hop behind a TLS-terminating proxy
            SECURE_SSL_REDIRECT="false",
            # the upstreams listen on loopback, which the SSRF guard refuses in production
            SSRF_ALLOW_PRIVATE_NETWORKS="true",
            DATA_DIR=self._data.name,
            PLATFORM_ADMIN_EMAIL=self.admin_email,
            PLATFORM_ADMIN_PASSWORD=self.admin_password,
            HOST="127.0.0.1",
            PORT=str(self.port),
            WORKERS=str(self.workers),
            SERVER=self.server,
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        if self.plugins:  # plugin chain hook (see PLUGIN_CHAIN_ENV)
            env[PLUGIN_CHAIN_ENV] = self.plugins
        return env

    @property
    def pid(self) -> int | None:
        """PID of the server's master process."""
        return self.process.proc.pid if self.process and self.process.proc else None

    def start(self) -> Gateway:
        """Migrate, bootstrap the admin and ``make serve``; wait for /health."""
        env = self.env()
        python = str(Path(sys.executable))
        subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        subprocess.run([python, "manage.py", "bootstrap_admin"], cwd=ROOT, env=env, check=True, capture_output=True)
        argv = ["make", "--no-print-directory", "serve", f"SERVER={self.server}", f"WORKERS={self.workers}"]
        self.process = GroupServer(argv, port=self.port, env=env, cwd=ROOT, startup_timeout=120).start()
        return self

    def stop(self) -> None:
        """Stop every worker and drop the data directory."""
        if self.process:
            self.process.__exit__(None, None, None)
            self.process = None
        self._data.cleanup()

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def token(self) -> str:
        """A bearer token for the platform admin, from the gateway's login endpoint."""
        if self._token:
            return self._token
        tried = []
        for path in LOGIN_PATHS:
            answer = httpx.post(
                f"{self.base_url}{path}", json={"email": self.admin_email, "password": self.admin_password}, timeout=30
            )
            tried.append(f"{path} -> {answer.status_code}")
            if answer.status_code == 200:
                body = answer.json()
                token = body.get("access_token") or body.get("token")
                if token:
                    self._token = token
                    return token
        raise SetupUnavailable(f"no login endpoint gave a token ({', '.join(tried)})")

    def register(self, name: str, upstream_url: str, timeout: float = 120.0) -> GatewayServer:
        """Register ``upstream_url`` (/v1/gateways), bundle its tools into a virtual server (/v1/servers)."""
        token = self.token()
        with httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout) as c:
            gateway = _ok(
                c.post(
                    "/v1/gateways",
                    json={"name": f"{name}-{self.run_id}", "url": upstream_url, "transport": "STREAMABLEHTTP"},
                )
            )
            tools = self._discovered(c, str(gateway["id"]), timeout)
            if not tools:
                raise SetupUnavailable(f"gateway registered {upstream_url} but lists no tools from it")
            bundle = {"name": f"{name}-server", "associated_tools": [str(t["id"]) for t in tools]}
            answer = c.post("/v1/servers", json={"server": bundle})
            if answer.status_code == 422 or answer.status_code == 400:  # flat body instead of {"server": ...}
                answer = c.post("/v1/servers", json=bundle)
            server = _ok(answer)
            # the name each tool is exposed by in this server (it may differ from the catalog name)
            exposed = _all(c, f"/v1/servers/{server['id']}/tools")
        mapping = {
            str(t.get("originalName") or t["name"]): str(t.get("exposedName") or t["name"]) for t in exposed or tools
        }
        catalog_names = {str(t.get("originalName") or t["name"]): str(t["name"]) for t in tools}
        return GatewayServer(
            base_url=self.base_url, server_id=str(server["id"]), token=token, tools=mapping, rpc_tools=catalog_names
        )

    @staticmethod
    def _discovered(client: httpx.Client, gateway_id: str, timeout: float) -> list[dict[str, Any]]:
        """The gateway's tools: discovery runs after registration; ask for a refresh if none show up."""

        def listed() -> list[dict[str, Any]]:
            found = _all(client, "/v1/tools", gateway_id=gateway_id)
            return [t for t in found if str(t.get("gatewayId")) == gateway_id]

        deadline = time.monotonic() + min(timeout, 10.0)
        while not (tools := listed()) and time.monotonic() < deadline:
            time.sleep(0.25)
        if tools:
            return tools
        refreshed = client.post(f"/v1/gateways/{gateway_id}/tools/refresh")
        if refreshed.status_code >= 400:
            raise SetupUnavailable(f"tools/refresh of the gateway -> {refreshed.status_code}: {refreshed.text[:300]}")
        return listed()


def _ok(response: httpx.Response) -> Any:
    if response.status_code == 404:
        raise SetupUnavailable(f"{response.request.method} {response.request.url.path} is not served (404)")
    if response.status_code >= 400:
        request = response.request
        raise RuntimeError(f"gateway {request.method} {request.url} -> {response.status_code}: {response.text[:500]}")
    return response.json()


def _all(client: httpx.Client, path: str, **filters: str) -> list[dict[str, Any]]:
    """Every item of a list endpoint: a JSON array paged by the Link header, or a ``next`` envelope."""
    items: list[dict[str, Any]] = []
    url: str | None = path
    params: dict[str, Any] | None = {"limit": 500, **filters}
    while url:
        response = client.get(url, params=params)
        payload = _ok(response)
        if isinstance(payload, list):
            items += payload
            url = response.links.get("next", {}).get("url")
        else:
            items += payload.get("results") or payload.get("items") or payload.get("data") or []
            url = payload.get("next")
        params = None  # the next link carries them
    return items
