"""A small HTTP/1.1 client for one upstream origin: persistent connections, one POST at a time each.

Hand-written on asyncio streams + ``httptools`` on purpose: profiling a worker calling a fast
streamable-HTTP upstream put about 45% of its CPU in the SDK client path (session, dispatcher,
memory streams, httpx2, httpcore2, anyio), against a target of ≤ 2 ms added per call. This client
does only what the lean tools/call path needs: write a POST by hand, parse the response with
``httptools`` (Content-Length, chunked or close-delimited bodies), hand body bytes to the caller as
they arrive (SSE), and put a connection back for reuse only after its response was read in full.
Every response is bounded: header bytes, body bytes, and the caller's deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import httptools

__all__ = ["HTTPClient", "HTTPResponse", "ResponseTooLarge", "UpstreamClosed"]

#: Bytes of status line + headers accepted from an upstream.
MAX_HEADER_BYTES = 64 * 1024
READ_SIZE = 64 * 1024


class UpstreamClosed(ConnectionError):
    """The upstream closed or reset the connection before the response was complete."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent  # False: the request never left this process (safe to try another connection)


class ResponseTooLarge(Exception):
    """The upstream's response (headers or body) exceeded its limit."""


@dataclass
class HTTPResponse:
    """Status and headers of a response whose body is being read (names lower-cased)."""

    status: int
    headers: dict[str, str]


@dataclass
class _Parse:
    """httptools callbacks: collects headers, queues body chunks, notes completion."""

    max_body: int
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    header_bytes: int = 0
    headers_done: bool = False
    complete: bool = False
    body: list[bytes] = field(default_factory=list)
    body_bytes: int = 0
    too_large: str = ""
    keep_alive: bool = False
    parser: Any = None

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value) + 4
        if self.header_bytes > MAX_HEADER_BYTES:
            self.too_large = f"response headers exceed {MAX_HEADER_BYTES} bytes"
            return
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, chunk: bytes) -> None:
        self.body_bytes += len(chunk)
        if self.body_bytes > self.max_body:
            self.too_large = f"response body exceeds {self.max_body} bytes"
            return
        self.body.append(bytes(chunk))

    def on_message_complete(self) -> None:
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()  # llhttp forgets it once the message is done


class _Conn:
    """One TCP (or TLS) connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.requests = 0

    @property
    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing() and self.reader.exception() is None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class HTTPClient:
    """Keep-alive connections to one origin, at most ``max_idle`` kept between requests."""

    def __init__(self, url: str, *, max_idle: int, max_body: int, connect_timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        default_port = (parts.scheme == "https" and self.port == 443) or (parts.scheme == "http" and self.port == 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.authority = host if default_port else f"{host}:{self.port}"
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.max_idle = max_idle
        self.max_body = max_body
        self.connect_timeout = connect_timeout
        self._idle: list[_Conn] = []
        self._ssl: ssl.SSLContext | None = None
        self._closed = False
        self.connects = 0  # TCP connections opened (keep-alive reuse keeps this low)
        self.requests = 0

    @staticmethod
    def proxied(url: str) -> bool:
        """True when the environment routes ``url`` through a proxy (httpx honours those; this client does not)."""
        parts = urlsplit(url)
        proxies = getproxies()
        if not (proxies.get(parts.scheme) or proxies.get("all")):
            return False
        return not proxy_bypass(parts.hostname or "")

    async def _connect(self) -> _Conn:
        if self.scheme == "https" and self._ssl is None:
            import httpx2

            self._ssl = httpx2.create_ssl_context()  # the same trust store as the SDK's httpx2 client
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    limit=READ_SIZE,
                    server_hostname=self.host if self._ssl else None,
                )
        except (OSError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            raise UpstreamClosed(f"cannot connect to {self.authority}: {reason}", sent=False) from exc
        self.connects += 1
        return _Conn(reader, writer)

    def _take_idle(self) -> _Conn | None:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable:
                return conn
            conn.close()
        return None

    def _release(self, conn: _Conn) -> None:
        if self._closed or len(self._idle) >= self.max_idle or not conn.usable:
            conn.close()
        else:
            self._idle.append(conn)

    def close(self) -> None:
        """Close every idle connection; connections in use close when their request ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _request_bytes(self, body: bytes, headers: list[tuple[str, str]]) -> bytes:
        lines = [f"POST {self.target} HTTP/1.1", f"Host: {self.authority}", f"Content-Length: {len(body)}"]
        for name, value in headers:
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise ValueError(f"header {name!r} contains a line break")
            lines.append(f"{name}: {value}")
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("latin-1") + body

    async def post(
        self,
        body: bytes,
        headers: list[tuple[str, str]],
        on_response: Callable[[HTTPResponse], None],
        on_body: Callable[[bytes], Awaitable[bool]],
    ) -> None:
        """POST ``body``; ``on_response`` gets status and headers, ``on_body`` each body chunk.

        ``on_body`` returns True to stop reading (the answer is complete): the connection is then
        reused only when the response had also ended. Raises UpstreamClosed (``sent`` tells whether
        the request may have reached the upstream), ResponseTooLarge, or whatever the callbacks raise.
        A cancelled or failed exchange closes its connection: a half-read response is never reused.
        """
        if self._closed:
            raise UpstreamClosed("client closed", sent=False)
        payload = self._request_bytes(body, headers)
        conn = self._take_idle() or await self._connect()
        self.requests += 1
        reusable = False
        try:
            try:
                conn.writer.write(payload)
                await conn.writer.drain()
            except OSError as exc:
                raise UpstreamClosed(f"writing to {self.authority} failed: {exc}", sent=True) from exc
            conn.requests += 1
            reusable = await self._read(conn, on_response, on_body)
        finally:
            if reusable:
                self._release(conn)
            else:
                conn.close()

    async def _read(
        self,
        conn: _Conn,
        on_response: Callable[[HTTPResponse], None],
        on_body: Callable[[bytes], Awaitable[bool]],
    ) -> bool:
        state = _Parse(self.max_body)
        parser = state.parser = httptools.HttpResponseParser(state)
        announced = False
        head_bytes = 0
        while True:
            try:
                data = await conn.reader.read(READ_SIZE)
            except OSError as exc:
                raise UpstreamClosed(f"reading from {self.authority} failed: {exc}", sent=True) from exc
            if not data:
                if state.headers_done and not state.complete and _close_delimited(state.headers):
                    return False  # the body ran to the end of the connection (already delivered)
                raise UpstreamClosed(f"{self.authority} closed the connection mid-response", sent=True)
            try:
                parser.feed_data(data)
            except httptools.HttpParserUpgrade as exc:
                raise UpstreamClosed(f"{self.authority} answered with a protocol upgrade", sent=True) from exc
            except httptools.HttpParserError as exc:
                if state.too_large:
                    raise ResponseTooLarge(state.too_large) from None
                raise UpstreamClosed(f"{self.authority} sent a malformed HTTP response: {exc}", sent=True) from exc
            if state.too_large:
                raise ResponseTooLarge(state.too_large)
            if not state.headers_done:
                head_bytes += len(data)
                if head_bytes > MAX_HEADER_BYTES:
                    raise ResponseTooLarge(f"response headers exceed {MAX_HEADER_BYTES} bytes")
                continue
            if not announced:
                announced = True
                state.status = parser.get_status_code()
                on_response(HTTPResponse(state.status, state.headers))
            chunks, state.body = state.body, []
            done = False
            for chunk in chunks:
                if await on_body(chunk):
                    done = True
                    break
            if state.complete:
                return state.keep_alive
            if done:
                return False


def _close_delimited(headers: dict[str, str]) -> bool:
    return "content-length" not in headers and "chunked" not in headers.get("transfer-encoding", "").lower()
