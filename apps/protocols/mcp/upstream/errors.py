"""Turning upstream failures into CatalogError with a message that names the upstream."""

from __future__ import annotations

import mcp_types as types
from mcp.shared.exceptions import MCPError

from apps.protocols.spi import CatalogError

from ..errors import FEDERATION_LOOP

__all__ = ["ConnectionLost", "is_connection_failure", "translate"]


class ConnectionLost(Exception):
    """The transport to an upstream failed (refused, reset, process exited)."""


#: Exception types that mean "could not reach the upstream", never "the upstream said no".
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (ConnectionLost, ConnectionError, OSError, EOFError)


def _httpx_errors() -> tuple[type[BaseException], ...]:
    import httpx2

    return (httpx2.TransportError, httpx2.HTTPStatusError)


def is_connection_failure(exc: BaseException) -> bool:
    """True when the failure is about reaching the upstream (worth a reconnect or retry)."""
    if isinstance(exc, MCPError):
        return exc.code == types.CONNECTION_CLOSED
    if isinstance(exc, BaseExceptionGroup):
        return any(is_connection_failure(e) for e in exc.exceptions)
    return isinstance(exc, _CONNECTION_ERRORS + _httpx_errors())


def _catalog_error_in(exc: BaseException) -> CatalogError | None:
    """A CatalogError raised inside a task group (an auth flow's, in a transport task), if any."""
    if isinstance(exc, CatalogError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _catalog_error_in(inner)
            if found is not None:
                return found
    return None


def translate(exc: BaseException, upstream: str) -> CatalogError:
    """The CatalogError a caller sees for a failure talking to ``upstream``."""
    found = _catalog_error_in(exc)
    if found is not None:
        return found
    if isinstance(exc, TimeoutError) or (isinstance(exc, MCPError) and exc.code == types.REQUEST_TIMEOUT):
        return CatalogError("timeout", f"upstream {upstream} did not answer in time", {"upstream": upstream})
    if is_connection_failure(exc):
        return CatalogError(
            "unavailable", f"upstream {upstream} is unreachable: {_describe(exc)}", {"upstream": upstream}
        )
    if isinstance(exc, MCPError) and exc.code == FEDERATION_LOOP:
        # A gateway further on found the loop: say so unchanged, with the way it came.
        data = exc.error.data if isinstance(exc.error.data, dict) else {}
        return CatalogError("loop", f"upstream {upstream}: {exc.error.message}", {**data, "upstream": upstream})
    if isinstance(exc, MCPError):
        code = "invalid_arguments" if exc.code == types.INVALID_PARAMS else "internal"
        if exc.code == types.METHOD_NOT_FOUND:
            code = "not_found"
        return CatalogError(
            code, f"upstream {upstream}: {exc.error.message}", {"upstream": upstream, "upstream_code": exc.code}
        )
    return CatalogError("internal", f"upstream {upstream} failed: {_describe(exc)}", {"upstream": upstream})


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _describe(exc.exceptions[0])
    text = str(exc) or type(exc).__name__
    return text[:300]
