"""The MCP module's descriptor and lifecycle hooks."""

from __future__ import annotations

from apps.protocols.registry import ModuleDescriptor, ProtocolModule

#: MCP revisions this module serves, oldest first.
SUPPORTED_REVISIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28")


class MCPModule(ProtocolModule):
    """Serves the catalog over MCP and reaches MCP upstreams."""

    descriptor = ModuleDescriptor(
        id="mcp",
        family="mcp",
        version="0.1.0",
        capabilities={
            "revisions": list(SUPPORTED_REVISIONS),
            "transports": ["streamable-http", "sse", "websocket", "stdio"],
        },
    )
