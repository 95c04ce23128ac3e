"""The peer: ContextForge itself (PyPI mcp-contextforge-gateway) set up end to end, unattended.

It lives in its own virtualenv under bench/.peer/ (git-ignored; it needs ``mcp<2``, which clashes
with this project's ``mcp`` 2.x). ``Peer(mode).start()`` installs it when missing, migrates a fresh
SQLite database, starts it on loopback (uvicorn, N workers, rate limiting off, localhost upstreams
allowed), mints an admin JWT with its own CLI, registers the upstream through its REST API and
bundles the upstream's tools into a virtual server.

Modes: ``default`` (its stateless streamable HTTP, JSON responses) and ``stateful``
(``USE_STATEFUL_SESSIONS=true``: initialize once, then Mcp-Session-Id).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.procs import GroupServer, free_port

__all__ = ["PEER_PACKAGE", "Peer", "PeerServer", "ensure_peer_venv"]

PEER_PACKAGE = "mcp-contextforge-gateway==1.0.7"
PEER_DIR = Path(__file__).resolve().parent / ".peer"
VENV = PEER_DIR / "venv"
MODES = {
    "default": {},
    "stateful": {"USE_STATEFUL_SESSIONS": "true"},
}


def ensure_peer_venv(python: str | None = None) -> Path:
    """The peer's virtualenv, created and filled from PyPI when missing; returns its bin directory."""
    marker = VENV / f".installed-{PEER_PACKAGE.split('==')[1]}"
    if not marker.exists():
        if VENV.exists():
            shutil.rmtree(VENV)
        VENV.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([python or shutil.which("python3") or sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, PEER_PACKAGE], check=True)
        marker.touch()
    return VENV / "bin"


@dataclass
class PeerServer:
    """What the benchmark needs to drive the peer: URLs, the bearer token and the tool names."""

    base_url: str
    server_id: str
    token: str
    tools: dict[str, str] = field(default_factory=dict)  # upstream tool name -> peer tool name

    @property
    def rpc_tools(self) -> dict[str, str]:
        """Tool names on /rpc: the peer uses the same names there."""
        return self.tools

    @property
    def mcp_url(self) -> str:
        """The virtual server's streamable HTTP endpoint."""
        return f"{self.base_url}/servers/{self.server_id}/mcp"

    @property
    def rpc_url(self) -> str:
        """The peer's JSON-RPC endpoint."""
        return f"{self.base_url}/rpc"

    @property
    def auth(self) -> dict[str, str]:
        """The Authorization header."""
        return {"Authorization": f"Bearer {self.token}"}


class Peer:
    """One running ContextForge in ``mode`` with ``workers`` workers; use as a context manager."""

    def __init__(self, mode: str = "default", *, workers: int = 1, port: int | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"peer mode must be one of {sorted(MODES)}, not {mode!r}")
        self.mode = mode
        self.workers = workers
        self.port = port or free_port()
        self.data = PEER_DIR / mode
        self.secret = secrets.token_hex(32)
        self.admin_email = "admin@bench.example.com"
        self.process: GroupServer | None = None

    def env(self) -> dict[str, str]:
        """The peer's environment: its defaults, except what the benchmark must change (listed here)."""
        env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}}
        env.update(
            HOST="127.0.0.1",
            PORT=str(self.port),
            MCG_HOST="127.0.0.1",
            MCG_PORT=str(self.port),
            DATABASE_URL=f"sqlite:///{self.data / 'mcp.db'}",
            JWT_SECRET_KEY=self.secret,
            AUTH_ENCRYPTION_SECRET=secrets.token_hex(32),
            BASIC_AUTH_PASSWORD=secrets.token_urlsafe(24),
            PLATFORM_ADMIN_EMAIL=self.admin_email,
            PLATFORM_ADMIN_PASSWORD=secrets.token_urlsafe(24),
            # rate limiting off, so the figures measure the gateway, not its limiter
            RATE_LIMITING_ENABLED="false",
            # the upstreams listen on loopback, which its SSRF guard refuses by default
            SSRF_ALLOW_LOCALHOST="true",
            SSRF_ALLOW_PRIVATE_NETWORKS="true",
            LOG_LEVEL="ERROR",
            PYTHONUNBUFFERED="1",
        )
        env.update(MODES[self.mode])
        return env

    @property
    def pid(self) -> int | None:
        """PID of the peer's master process."""
        return self.process.proc.pid if self.process and self.process.proc else None

    def start(self) -> Peer:
        """Install if needed, migrate a fresh database and start serving."""
        bin_dir = ensure_peer_venv()
        if self.data.exists():
            shutil.rmtree(self.data)
        self.data.mkdir(parents=True)
        env = self.env()
        migrate = subprocess.run(
            [str(bin_dir / "python"), "-m", "mcpgateway.bootstrap_db"],
            env=env,
            cwd=self.data,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if migrate.returncode != 0:
            raise RuntimeError(f"peer migration failed:\n{migrate.stdout}\n{migrate.stderr}")
        argv = [str(bin_dir / "mcpgateway"), "--host", "127.0.0.1", "--port", str(self.port)]
        argv += ["--workers", str(self.workers), "--no-access-log"]
        self.process = GroupServer(argv, port=self.port, env=env, cwd=self.data, startup_timeout=180).start()
        return self

    def stop(self) -> None:
        """Stop the peer (its whole process group)."""
        if self.process:
            self.process.__exit__(None, None, None)
        self.process = None

    def __enter__(self) -> Peer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def token(self) -> str:
        """An admin JWT minted with the peer's own CLI (expires in a day)."""
        bin_dir = ensure_peer_venv()
        argv = [str(bin_dir / "python"), "-m", "mcpgateway.utils.create_jwt_token"]
        argv += ["--username", self.admin_email, "--exp", "1440", "--secret", self.secret]
        out = subprocess.run(argv, env=self.env(), capture_output=True, text=True, check=True, timeout=60)
        return out.stdout.strip().splitlines()[-1]

    def register(self, name: str, upstream_url: str, timeout: float = 120.0) -> PeerServer:
        """Register ``upstream_url`` as a gateway, bundle all its tools into a virtual server."""
        token = self.token()
        base = f"http://127.0.0.1:{self.port}"
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=auth, timeout=timeout) as client:
            gateway = _ok(
                client.post("/gateways", json={"name": name, "url": upstream_url, "transport": "STREAMABLEHTTP"})
            )
            listed = _items(_ok(client.get("/tools", params={"limit": 0})))
            tools = [t for t in listed if t.get("gatewayId") == gateway["id"]]
            if not tools:
                raise RuntimeError(f"peer registered {upstream_url} but found no tools")
            bundle = {"name": f"{name}-server", "associated_tools": [t["id"] for t in tools]}
            server = _ok(client.post("/servers", json={"server": bundle}))
        mapping = {t.get("originalName") or t["name"]: t["name"] for t in tools}
        return PeerServer(base_url=base, server_id=server["id"], token=token, tools=mapping)


def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        request = response.request
        raise RuntimeError(f"peer {request.method} {request.url} -> {response.status_code}: {response.text[:500]}")
    return response.json()


def _items(payload: Any) -> list[dict[str, Any]]:
    if isinstance(payload, list):
        return payload
    for key in ("items", "data", "tools"):
        if isinstance(payload.get(key), list):
            return payload[key]
    raise RuntimeError(f"unexpected list payload from the peer: {str(payload)[:300]}")
