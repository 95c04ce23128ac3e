"""Upstream MCP servers the benchmark drives directly and through the gateways."""
