"""The MCP module's client side: pooled sessions to federated MCP upstreams.

``runtime`` is the process-wide ``MCPUpstreamRuntime`` the core dispatches federated
MCP calls to (registered at MCPModule initialize).
"""

from __future__ import annotations

from .config import PoolConfig
from .runtime import Discovery, MCPUpstreamRuntime

__all__ = ["Discovery", "MCPUpstreamRuntime", "PoolConfig", "install", "runtime"]

#: The process-wide runtime (pool configuration read from settings on first use).
runtime = MCPUpstreamRuntime()


def install() -> MCPUpstreamRuntime:
    """Register the runtime with the core as the runner of MCP-federated entities (idempotent)."""
    from apps.catalog import runtimes

    if runtimes.get_runtime("MCP") is not runtime:
        runtimes.register_runtime("MCP", runtime)
    return runtime
