"""``manage.py translate``: serve a stdio MCP server over SSE and/or streamable HTTP."""

from __future__ import annotations

import shlex
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    """Run a stdio MCP server (supervised) and expose it over HTTP on 127.0.0.1 (or --host)."""

    help = "Serve a stdio MCP server over HTTP: /sse + /messages/ (SSE) and/or /mcp (streamable HTTP)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--stdio", required=True, help='the server command line, e.g. "uvx mcp-server-time"')
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--expose-sse", action="store_true", help="serve GET /sse and POST /messages/")
        parser.add_argument("--expose-streamable-http", action="store_true", help="serve /mcp")
        parser.add_argument("--name", default="translated", help="name used in logs and errors")

    def handle(self, *args: Any, **options: Any) -> None:
        import uvicorn

        from apps.protocols.mcp.upstream import MCPUpstreamRuntime, PoolConfig
        from apps.protocols.mcp.upstream.bridge import proxy_server, serve_http_app
        from apps.protocols.spi import UpstreamTarget

        argv = shlex.split(options["stdio"])
        if not argv:
            raise CommandError("--stdio: give the command line of the MCP server to run")
        if not 0 < options["port"] < 65536:
            raise CommandError("--port: must be between 1 and 65535")
        sse = options["expose_sse"]
        streamable = options["expose_streamable_http"]
        if not (sse or streamable):
            sse = streamable = True  # neither flag: expose both
        target = UpstreamTarget(
            gateway_id=f"translate:{options['name']}",
            name=options["name"],
            transport="STDIO",
            command=argv[0],
            args=tuple(argv[1:]),
        )
        runtime = MCPUpstreamRuntime(PoolConfig.from_settings())
        app = serve_http_app(proxy_server(runtime, target), sse=sse, streamable_http=streamable, runtime=runtime)
        exposed = ", ".join(p for p, on in (("/sse", sse), ("/mcp", streamable)) if on)
        self.stderr.write(f"translate: {options['stdio']} on http://{options['host']}:{options['port']} ({exposed})")
        uvicorn.run(app, host=options["host"], port=options["port"], log_level="warning", lifespan="on")
