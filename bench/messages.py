"""The request bodies and headers every path is driven with, and the 2025-11-25 session handshake.

Every tools/call carries the same arguments; only the tool name differs where a gateway
namespaces it (e.g. ``<gateway>-echo``).
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

__all__ = [
    "ARGUMENTS",
    "CLIENT_INFO",
    "SESSION_REVISION",
    "STATELESS_REVISION",
    "open_session",
    "session_headers",
    "stateless_headers",
    "tools_call",
    "tools_list",
]

STATELESS_REVISION = "2026-07-28"
SESSION_REVISION = "2025-11-25"
CLIENT_INFO = {"name": "contextforge-bench", "version": "1.0.0"}
ARGUMENTS: dict[str, Any] = {"text": "the quick brown fox jumps over the lazy dog"}


def _meta(revision: str | None) -> dict[str, Any]:
    if revision != STATELESS_REVISION:
        return {}
    return {
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": STATELESS_REVISION,
            "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
    }


def tools_call(tool: str, revision: str | None = STATELESS_REVISION) -> bytes:
    """A tools/call of ``tool`` with the shared arguments (2026-07-28 form carries ``_meta``)."""
    params = {"name": tool, "arguments": ARGUMENTS, **_meta(revision)}
    return orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})


def tools_list(revision: str | None = STATELESS_REVISION) -> bytes:
    """A tools/list (2026-07-28 form carries ``_meta``)."""
    return orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": _meta(revision)})


def stateless_headers(method: str, name: str | None = None) -> dict[str, str]:
    """HTTP headers of a 2026-07-28 request: protocol version, Mcp-Method and Mcp-Name."""
    headers = {"MCP-Protocol-Version": STATELESS_REVISION, "Mcp-Method": method}
    if name is not None:
        headers["Mcp-Name"] = name
    return headers


def session_headers(session_id: str | None) -> dict[str, str]:
    """HTTP headers of a request inside a 2025-11-25 session (no session id when the server is stateless)."""
    headers = {"MCP-Protocol-Version": SESSION_REVISION}
    if session_id:
        headers["Mcp-Session-Id"] = session_id
    return headers


def open_session(url: str, headers: dict[str, str] | None = None, timeout: float = 30.0) -> str | None:
    """Initialize a 2025-11-25 session at ``url``; return its Mcp-Session-Id (None if the server is stateless)."""
    base = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **(headers or {})}
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": SESSION_REVISION, "capabilities": {}, "clientInfo": CLIENT_INFO},
    }
    with httpx.Client(timeout=timeout) as client:
        answer = client.post(url, content=orjson.dumps(init), headers=base)
        answer.raise_for_status()
        if '"result"' not in answer.text:
            raise RuntimeError(f"initialize at {url} failed: {answer.text[:300]}")
        session_id = answer.headers.get("mcp-session-id")
        follow = {**base, **session_headers(session_id)}
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        client.post(url, content=orjson.dumps(note), headers=follow).raise_for_status()
    return session_id
