"""``manage.py mcp_wrapper``: a stdio MCP server forwarding to a remote gateway (for stdio-only clients)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    """Speak MCP on stdin/stdout and forward every request to --url with a bearer token."""

    help = "A stdio MCP server that forwards to a remote gateway's streamable-HTTP MCP endpoint."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", required=True, help="the remote MCP endpoint, e.g. https://gw/servers/ID/mcp")
        parser.add_argument("--token", default=None, help="bearer token (or set MCP_AUTH_TOKEN)")
        parser.add_argument("--timeout", type=float, default=None, help="per-request timeout in seconds")

    def handle(self, *args: Any, **options: Any) -> None:
        import os

        from apps.protocols.mcp.upstream import MCPUpstreamRuntime, PoolConfig
        from apps.protocols.mcp.upstream.bridge import proxy_server, serve_stdio
        from apps.protocols.spi import UpstreamTarget

        url = options["url"]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CommandError(f"--url: {url!r} is not an http(s) URL")
        token = options["token"] or os.environ.get("MCP_AUTH_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        target = UpstreamTarget(
            gateway_id="mcp_wrapper",
            name=parts.netloc,
            transport="STREAMABLEHTTP",
            url=url,
            headers=headers,
            timeout=options["timeout"],
        )
        runtime = MCPUpstreamRuntime(PoolConfig.from_settings())
        asyncio.run(serve_stdio(proxy_server(runtime, target, name="contextforge-wrapper"), runtime))
