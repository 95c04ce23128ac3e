"""The runtime registry: which code runs a federated entity, by integration type.

Protocol modules register an ``InvocationRuntime`` (SPI) for the integration types they
serve (``MCP`` by the MCP module's upstream pool, ``A2A`` by the A2A module). The core
invoke service looks the runtime up after policy and plugins have run and calls it
with an ``UpstreamTarget`` built from the gateway with decrypted credentials.

A runtime may also implement, beyond the SPI's ``call_tool``:

- ``read_resource(target, uri, options) -> list[ResourceContents]``
- ``get_prompt(target, name, arguments, options) -> PromptResult``
- ``discover(target) -> dict`` for "refresh from upstream"; see ``services.refresh_gateway``.
- ``begin_authorization(target) -> {"authorization_url", "state", "pending"}`` and
  ``complete_authorization(target, pending, code, iss)`` for an OAuth authorization code
  upstream; see ``upstream_oauth``.
- ``ping_all(targets, budget=...) -> {gateway_id: error or None}`` for health checks,
  ``add_listener(callback)`` for upstream list changes, ``run_sync(fn, *args)`` to run
  its coroutines from synchronous code on the loop that holds its pooled sessions;
  see ``federation``.

The REST adapter is not registered here: REST tools are run by the core itself.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["get_runtime", "register_runtime", "registered_types", "unregister_runtime"]

_lock = threading.Lock()
_runtimes: dict[str, Any] = {}


def register_runtime(integration_type: str, runtime: Any) -> None:
    """Make ``runtime`` the runner of ``integration_type`` ("MCP" or "A2A")."""
    if integration_type not in ("MCP", "A2A"):
        raise ValueError(f"no runtime can be registered for integration type {integration_type!r}")
    if not callable(getattr(runtime, "call_tool", None)):
        raise TypeError("a runtime must implement call_tool(target, name, arguments, options)")
    with _lock:
        _runtimes[integration_type] = runtime
    add_listener = getattr(runtime, "add_listener", None)
    if add_listener is not None:  # upstream list changes trigger a federation sync
        from .federation import on_upstream_event

        add_listener(on_upstream_event)


def unregister_runtime(integration_type: str, runtime: Any | None = None) -> None:
    """Remove the runtime of a type (only if it is ``runtime``, when given)."""
    with _lock:
        if runtime is None or _runtimes.get(integration_type) is runtime:
            _runtimes.pop(integration_type, None)


def get_runtime(integration_type: str) -> Any | None:
    """The registered runtime of a type, or None."""
    return _runtimes.get(integration_type)


def registered_types() -> list[str]:
    """Integration types that currently have a runtime."""
    return sorted(_runtimes)
