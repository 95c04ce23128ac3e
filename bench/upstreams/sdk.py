"""The realistic upstream: the official ``mcp`` SDK's MCPServer, stateless streamable HTTP, JSON responses.

Same tools as the fast upstream (echo, add), so the two differ only in the server stack.
Run: ``python -m bench.upstreams.sdk --port 9200`` (MCP at /mcp, /health answers 200).
"""

from __future__ import annotations

import argparse

import uvicorn
from mcp.server import MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["build_app", "main", "server"]

server = MCPServer(name="bench-sdk", version="1.0.0", log_level="WARNING")


@server.tool(description="Return the given text unchanged.", structured_output=False)
def echo(text: str) -> str:
    """Return ``text`` unchanged."""
    return text


@server.tool(description="Return the sum of two numbers.", structured_output=False)
def add(a: float, b: float) -> str:
    """Return ``a + b`` as text (whole sums without a decimal point, as the fast upstream does)."""
    total = a + b
    return str(int(total)) if total.is_integer() else str(total)


@server.custom_route("/health", methods=["GET"])
async def health(_request: Request) -> Response:
    """Readiness probe for the benchmark."""
    return JSONResponse({"status": "ok"})


def build_app() -> Starlette:
    """The ASGI app: stateless, JSON responses, at /mcp."""
    return server.streamable_http_app(json_response=True, stateless_http=True)


def main(argv: list[str] | None = None) -> None:
    """Command line: --host, --port, --workers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if args.workers > 1:
        uvicorn.run(
            "bench.upstreams.sdk:build_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="warning",
            access_log=False,
        )
    else:
        uvicorn.run(build_app(), host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
