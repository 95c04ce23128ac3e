"""The MCP module's client side: pooled sessions to federated MCP upstreams.

``runtime`` is the process-wide ``MCPUpstreamRuntime`` the core dispatches federated
MCP calls to (registered at MCPModule initialize).
"""

from __future__ import annotations

from .config import PoolConfig
from .runtime import Discovery, MCPUpstreamRuntime

__all__ = ["Discovery", "MCPUpstreamRuntime", "PoolConfig", "runtime"]

#: The process-wide runtime (pool configuration read from settings on first use).
runtime = MCPUpstreamRuntime()
