"""What the dispatcher is handed with each message: the caller, the scope and the way back.

``RequestContext`` is built by a transport; ``SessionState`` is the part of a stateful
(handshake-era) session that the dispatcher reads and changes. The transport loads the
session record before the call and stores it again when ``dirty`` is set, so the record
lives in the shared session store, never only in one process.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from apps.protocols.spi import CoreServices, Principal

__all__ = ["Outbound", "RequestContext", "SessionState"]

#: Sends one JSON-RPC message (a notification) to the client on the current stream.
Outbound = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class SessionState:
    """A handshake-era session: negotiated revision, client capabilities, log level, subscriptions."""

    id: str
    owner: str
    server_id: str | None = None
    protocol_version: str | None = None
    client_capabilities: dict[str, Any] = field(default_factory=dict)
    client_info: dict[str, Any] | None = None
    initialized: bool = False
    log_level: str | None = None
    subscriptions: list[str] = field(default_factory=list)
    touched: float = 0.0
    dirty: bool = False

    def as_record(self) -> dict[str, Any]:
        """Plain-dict form for the session store."""
        return {
            "id": self.id,
            "owner": self.owner,
            "server_id": self.server_id,
            "protocol_version": self.protocol_version,
            "client_capabilities": self.client_capabilities,
            "client_info": self.client_info,
            "initialized": self.initialized,
            "log_level": self.log_level,
            "subscriptions": self.subscriptions,
            "touched": time.time(),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SessionState:
        """Rebuild from the session store's dict."""
        return cls(
            id=record["id"],
            owner=record["owner"],
            server_id=record.get("server_id"),
            protocol_version=record.get("protocol_version"),
            client_capabilities=record.get("client_capabilities") or {},
            client_info=record.get("client_info"),
            initialized=bool(record.get("initialized")),
            log_level=record.get("log_level"),
            subscriptions=list(record.get("subscriptions") or []),
            touched=float(record.get("touched") or 0.0),
        )


def principal_key(principal: Principal) -> str:
    """A stable key naming the caller, to bind a session to whoever opened it."""
    if principal.user_id is None:
        return "anonymous"
    return f"user:{principal.user_id}:token:{principal.token_id or ''}"


@dataclass
class RequestContext:
    """Everything one message is handled with.

    ``headers`` (lowercase names) are given by HTTP transports only: the 2026-07-28
    header checks run when they are present. ``send`` carries notifications (progress,
    log messages) back on the stream of the current request; None when the transport
    has no way to deliver them (plain JSON answers). ``default_revision`` is the revision
    used for handshake-era requests that arrive with no session (the /rpc endpoint).
    ``stream_key`` names the connection or session for cancellation. ``caller_headers``
    (lowercase names) are the HTTP request's or WebSocket handshake's headers, captured
    once by the transport and handed to the core with each call (header passthrough).
    """

    services: CoreServices
    principal: Principal
    server_id: str | None = None
    transport: str = "streamable-http"
    session: SessionState | None = None
    headers: Mapping[str, str] | None = None
    send: Outbound | None = None
    default_revision: str | None = None
    stream_key: str = ""
    server_name: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    caller_headers: Mapping[str, str] | None = None
