"""JSON-RPC 2.0 and MCP error codes, the exception that carries them, and error envelopes."""

from __future__ import annotations

from typing import Any

from mcp_types import (
    HEADER_MISMATCH,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    PARSE_ERROR,
    UNSUPPORTED_PROTOCOL_VERSION,
)

__all__ = [
    "FEDERATION_LOOP",
    "HEADER_MISMATCH",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "MISSING_REQUIRED_CLIENT_CAPABILITY",
    "PARSE_ERROR",
    "REQUEST_CANCELLED",
    "RESOURCE_NOT_FOUND",
    "UNSUPPORTED_PROTOCOL_VERSION",
    "RpcError",
    "error_response",
]

#: MCP's "resource not found" (resources/read of an unknown URI).
RESOURCE_NOT_FOUND = -32002
#: A federation loop: the request already passed through this gateway, or through too many
#: (a server-defined code; gateways pass it back unchanged so the caller sees where it looped).
FEDERATION_LOOP = -32050
#: A request cancelled by the client (used only internally; cancelled requests get no reply).
REQUEST_CANCELLED = -32800


class RpcError(Exception):
    """A failure that becomes one JSON-RPC error object on the wire."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def as_error(self) -> dict[str, Any]:
        """The JSON-RPC ``error`` member."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def error_response(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    """A complete JSON-RPC error response (``id`` null when the request id is unknown)."""
    return {"jsonrpc": "2.0", "id": request_id, "error": RpcError(code, message, data).as_error()}
