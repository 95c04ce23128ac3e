"""MCP revisions: which ones are served, how a client's request is negotiated, what each allows.

Up to 2025-11-25 a connection starts with ``initialize`` (the "handshake" era); from
2026-07-28 every request carries its protocol version and client capabilities in
``params._meta`` and there is no handshake or session (the "modern" era).
"""

from __future__ import annotations

from apps.protocols.mcp.module import SUPPORTED_REVISIONS

__all__ = [
    "HANDSHAKE_REVISIONS",
    "LATEST_HANDSHAKE",
    "MODERN_REVISIONS",
    "SUPPORTED_REVISIONS",
    "allows_batches",
    "is_modern",
    "methods_of",
    "negotiate",
]

MODERN_REVISIONS = ("2026-07-28",)
HANDSHAKE_REVISIONS = tuple(r for r in SUPPORTED_REVISIONS if r not in MODERN_REVISIONS)
LATEST_HANDSHAKE = HANDSHAKE_REVISIONS[-1]

_COMMON = frozenset(
    {
        "tools/list",
        "tools/call",
        "resources/list",
        "resources/read",
        "resources/templates/list",
        "prompts/list",
        "prompts/get",
        "completion/complete",
    }
)
_HANDSHAKE_ONLY = frozenset({"initialize", "ping", "resources/subscribe", "resources/unsubscribe", "logging/setLevel"})
_MODERN_ONLY = frozenset({"server/discover", "subscriptions/listen"})


def is_modern(revision: str) -> bool:
    """True for the stateless revisions (per-request ``_meta``, no handshake)."""
    return revision in MODERN_REVISIONS


def negotiate(requested: object) -> str:
    """The revision answered to an ``initialize`` asking for ``requested``.

    The requested one when it is a handshake revision this gateway serves, else the
    latest handshake revision (the client then decides whether it can continue).
    """
    if isinstance(requested, str) and requested in HANDSHAKE_REVISIONS:
        return requested
    return LATEST_HANDSHAKE


def methods_of(revision: str) -> frozenset[str]:
    """The client→server request methods a revision defines."""
    if is_modern(revision):
        return _COMMON | _MODERN_ONLY
    return _COMMON | _HANDSHAKE_ONLY


def allows_batches(revision: str) -> bool:
    """JSON-RPC batches exist only in 2025-03-26 (added then, removed in 2025-06-18)."""
    return revision == "2025-03-26"
