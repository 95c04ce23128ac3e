"""The fast upstream: a stateless MCP server answering JSON over HTTP, as lean as Python allows.

Hand-written on asyncio + httptools (no ASGI framework) on purpose: it is the yardstick the
gateway's added latency is measured against, so every microsecond it spends is noise in that
figure. It speaks streamable HTTP in its stateless, JSON-response form: POST a JSON-RPC message,
get one JSON body back (202 for notifications); no sessions, no SSE.

Methods: initialize, server/discover, ping, tools/list, tools/call (tools echo and add).

Run: ``python -m bench.upstreams.fast --port 9100`` (serves every path; /health answers 200).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from typing import Any

import httptools
import orjson

from bench.upstreams import tools as _tools
from bench.upstreams.tools import ToolInputError, call_tool

__all__ = ["handle_rpc", "main", "serve"]

SUPPORTED = ("2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
STATELESS_REVISION = "2026-07-28"
SERVER_INFO = {"name": "bench-fast", "version": "1.0.0"}
CAPABILITIES = {"tools": {"listChanged": False}}
MAX_BODY = 1 << 20  # 1 MiB: the client is hostile until proven otherwise
META_VERSION = "io.modelcontextprotocol/protocolVersion"

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602


def _error(msg_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}


def _result(params: dict[str, Any], result: dict[str, Any], *, cacheable: bool = False) -> dict[str, Any]:
    """``result`` in the form of the request's revision (2026-07-28 adds resultType, cache hints on lists)."""
    meta = params.get("_meta")
    if isinstance(meta, dict) and meta.get(META_VERSION) == STATELESS_REVISION:
        result["resultType"] = "complete"
        if cacheable:
            result["ttlMs"], result["cacheScope"] = 60_000, "public"
    return result


TOOL_LIST: list[dict[str, Any]] = _tools.TOOLS


def handle_rpc(message: Any) -> dict[str, Any] | None:
    """Answer one JSON-RPC message; None for a notification (or a response sent to us)."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return _error(None, INVALID_REQUEST, "not a JSON-RPC 2.0 message")
    method = message.get("method")
    if "id" not in message:
        return None
    msg_id = message["id"]
    if not isinstance(method, str):
        return _error(msg_id, INVALID_REQUEST, "'method' must be a string")
    params = message.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        return _error(msg_id, INVALID_PARAMS, "'params' must be an object")
    if method == "tools/call":
        name = params.get("name")
        if not isinstance(name, str):
            return _error(msg_id, INVALID_PARAMS, "'name' must be a string")
        try:
            text = call_tool(name, params.get("arguments", {}))
        except KeyError:
            return _error(msg_id, INVALID_PARAMS, f"unknown tool: {name}")
        except ToolInputError as exc:
            result = {"content": [{"type": "text", "text": str(exc)}], "isError": True}
        else:
            result = {"content": [{"type": "text", "text": text}], "isError": False}
        return {"jsonrpc": "2.0", "id": msg_id, "result": _result(params, result)}
    if method == "tools/list":
        return {"jsonrpc": "2.0", "id": msg_id, "result": _result(params, {"tools": TOOL_LIST}, cacheable=True)}
    if method == "ping":
        return {"jsonrpc": "2.0", "id": msg_id, "result": _result(params, {})}
    if method == "initialize":
        wanted = params.get("protocolVersion")
        version = wanted if wanted in SUPPORTED[1:] else SUPPORTED[1]
        result = {"protocolVersion": version, "capabilities": CAPABILITIES, "serverInfo": SERVER_INFO}
        return {"jsonrpc": "2.0", "id": msg_id, "result": result}
    if method == "server/discover":
        result = {
            "resultType": "complete",
            "supportedVersions": list(SUPPORTED),
            "capabilities": CAPABILITIES,
            "_meta": {"io.modelcontextprotocol/serverInfo": SERVER_INFO},
            "ttlMs": 3_600_000,
            "cacheScope": "public",
        }
        return {"jsonrpc": "2.0", "id": msg_id, "result": result}
    return _error(msg_id, METHOD_NOT_FOUND, f"method not found: {method}")


def _answer(body: bytes) -> tuple[int, bytes]:
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 400, orjson.dumps(_error(None, PARSE_ERROR, "body is not JSON"))
    if isinstance(message, list):  # batches (2025-03-26): answer each request
        answers = [a for a in map(handle_rpc, message) if a is not None]
        return (200, orjson.dumps(answers)) if answers else (202, b"")
    answer = handle_rpc(message)
    return (202, b"") if answer is None else (200, orjson.dumps(answer))


_REASONS = {200: b"OK", 202: b"Accepted", 400: b"Bad Request", 405: b"Method Not Allowed", 413: b"Too Large"}


class _Protocol(asyncio.Protocol):
    """One HTTP/1.1 connection: parse with httptools, answer each request in order."""

    __slots__ = ("body", "keep_alive", "method", "parser", "path", "too_large", "transport")

    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.body: list[bytes] = []
        self.path = b""
        self.too_large = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._send(400, b"", close=True)

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.body = []
        self.too_large = False

    def on_url(self, url: bytes) -> None:
        self.path = url

    def on_body(self, chunk: bytes) -> None:
        if not self.too_large:
            self.body.append(chunk)
            if sum(map(len, self.body)) > MAX_BODY:
                self.too_large, self.body = True, []

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        keep_alive = self.parser.should_keep_alive()
        if self.too_large:
            self._send(413, b"", close=True)
        elif method == b"POST":
            status, payload = _answer(b"".join(self.body))
            self._send(status, payload, close=not keep_alive)
        elif method == b"GET" and self.path.startswith(b"/health"):
            self._send(200, b'{"status":"ok"}', close=not keep_alive)
        else:  # no SSE stream and no session to delete: stateless JSON only
            self._send(405, b"", close=not keep_alive, extra=b"allow: POST\r\n")

    def _send(self, status: int, payload: bytes, *, close: bool, extra: bytes = b"") -> None:
        if self.transport is None or self.transport.is_closing():
            return
        head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s%s\r\n" % (
            status,
            _REASONS[status],
            len(payload),
            extra,
            b"connection: close\r\n" if close else b"",
        )
        self.transport.write(head + payload)
        if close:
            self.transport.close()


async def serve(host: str, port: int) -> None:
    """Serve until SIGTERM/SIGINT."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Protocol, host, port, reuse_address=True, reuse_port=True, backlog=1024)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def _run(host: str, port: int) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        asyncio.run(serve(host, port))
    else:
        uvloop.run(serve(host, port))


def main(argv: list[str] | None = None) -> None:
    """Command line: --host, --port, --workers (processes sharing the port via SO_REUSEPORT)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--tools", type=int, default=len(_tools.TOOLS), help="how many tools tools/list returns")
    args = parser.parse_args(argv)
    global TOOL_LIST
    TOOL_LIST = _tools.catalog(args.tools)
    if args.workers <= 1:
        _run(args.host, args.port)
        return
    import multiprocessing  # each process binds the port itself (SO_REUSEPORT); the kernel spreads connections

    procs = [multiprocessing.Process(target=_run, args=(args.host, args.port)) for _ in range(args.workers)]
    for proc in procs:
        proc.start()
    signal.signal(signal.SIGTERM, lambda *_: [p.terminate() for p in procs])
    for proc in procs:
        proc.join()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
