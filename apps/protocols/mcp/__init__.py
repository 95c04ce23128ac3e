"""The MCP protocol module: wire, transports, sessions and upstream clients for MCP."""
