"""The lean tools/call: one HTTP POST on a pooled streamable-HTTP session, without the SDK machinery.

The pooled ``UpstreamConnection`` negotiated its session with the SDK; a tools/call on it
is then sent here as one POST over a keep-alive connection (``http1.HTTPClient``) instead of
through the SDK's session, dispatcher, memory streams and httpx2, which profiling showed
to be most of a worker's CPU per call. The wire shape is the SDK's own: the request is built
by the SDK's models and stamped by the session's ``_stamp`` (``MCP-Protocol-Version``,
``Mcp-Method``/``Mcp-Name``/``Mcp-Param-*`` and the 2026-07-28 ``_meta``), and the result
goes through the SDK's own validation (revision checks, result model, output schema).

Handled here: a JSON response; an SSE response carrying progress (→ ``on_progress``), log
messages (→ the connection's relay), change notifications, server→client requests (answered
through the relay, by a POST, like the SDK does) and the final response; JSON-RPC errors
(raised as the SDK's ``MCPError``, so ``errors.translate`` gives the same CatalogError); an
``input_required`` result, whose further rounds the SDK's own driver runs. A 404 on a session
means it expired: ``ConnectionLost`` (the pool marks the connection lost; a tools/call is
never retried). The call falls back to the SDK path (``prepare`` returns None) whenever this
path cannot be sure to behave the same: other transports, OAuth, proxies from the
environment, a tool this session has not listed yet (the SDK would list it first to validate
its output), or an upstream that ever asked the client something. A server request on the
call's own stream reaches the calling client through the relay, which finds the call by
``current_call`` exactly as on the SDK path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mcp_types as types
import orjson
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from apps.protocols.spi import CallOptions

from .errors import ConnectionLost
from .http1 import HTTPClient, HTTPResponse, ResponseTooLarge, UpstreamClosed
from .transports import VIA_HEADER, normalize_transport, with_query

try:  # the SDK internals the lean path mirrors; without them only the SDK path is used
    from mcp.client.session import _clamp_inbound_ttl, _later_revision_fields
    from mcp.shared._otel import inject_trace_context
    from mcp_types import methods as _methods

    SDK_HOOKS = True
except ImportError:  # pragma: no cover - an SDK upgrade moved them
    SDK_HOOKS = False

if TYPE_CHECKING:
    from mcp.client import Client

    from .connection import UpstreamConnection

logger = logging.getLogger(__name__)

__all__ = ["LeanCall", "lean_client", "prepare", "run"]

METHOD = "tools/call"
#: Bytes of one SSE event (the SDK's own default limit).
MAX_SSE_EVENT = 1024 * 1024


@dataclass
class LeanCall:
    """A tools/call ready to go out on the lean path."""

    conn: UpstreamConnection
    client: Client
    http: HTTPClient
    name: str
    arguments: dict[str, Any]
    meta: dict[str, Any]
    options: CallOptions
    modern: bool


def lean_client(conn: UpstreamConnection) -> HTTPClient | None:
    """The connection's HTTP client for lean calls (made on first use), or None when it cannot have one."""
    if conn.http is None and not conn.lean_refused:
        target = conn.target
        url = with_query(target.url or "", target.query_params)
        try:
            if HTTPClient.proxied(url):
                raise ValueError("a proxy from the environment applies")
            conn.http = HTTPClient(
                url,
                max_idle=conn.config.max_concurrency,
                max_body=conn.config.max_response_bytes,
                connect_timeout=conn.config.connect_timeout,
            )
        except ValueError as exc:
            logger.info("upstream %s: tool calls take the SDK path (%s)", conn.name, exc)
            conn.lean_refused = True
    return conn.http


def prepare(
    conn: UpstreamConnection | None,
    client: Client,
    name: str,
    arguments: dict[str, Any],
    meta: dict[str, Any],
    options: CallOptions,
) -> LeanCall | None:
    """A lean call when this one may take the lean path, else None (use the SDK path)."""
    if conn is None or not SDK_HOOKS or not conn.config.lean_calls or conn.client is not client:
        return None
    target = conn.target
    if target.oauth or normalize_transport(target.transport) != "STREAMABLEHTTP":
        return None
    if conn.state != "ready" or conn.upstream_asked:
        return None
    session = client.session
    if name not in getattr(session, "_tool_output_schemas", {}):
        return None  # the SDK lists tools first to validate this tool's output
    version = client.protocol_version
    modern = version in MODERN_PROTOCOL_VERSIONS
    if not modern and not conn.wire.initialized:
        return None  # the handshake's answer (and its session id) was not seen
    http = lean_client(conn)
    if http is None:
        return None
    return LeanCall(conn, client, http, name, arguments, meta, options, modern)


class _Exchange:
    """One POST's response: status, the JSON or SSE body, and the messages it carried."""

    def __init__(self, call: LeanCall, request_id: int) -> None:
        self.call = call
        self.request_id = request_id
        self.response: HTTPResponse | None = None
        self.kind = ""  # json | sse | other
        self.body: list[bytes] = []
        self.final: dict[str, Any] | None = None
        self._buffer = b""
        self._data: list[bytes] = []
        self._event = ""
        self._event_size = 0

    def on_response(self, response: HTTPResponse) -> None:
        self.response = response
        content_type = response.headers.get("content-type", "").lower()
        if 200 <= response.status < 300 and response.status != 202 and content_type.startswith("text/event-stream"):
            self.kind = "sse"
        elif content_type.startswith("application/json"):
            self.kind = "json"
        else:
            self.kind = "other"

    async def on_body(self, chunk: bytes) -> bool:
        """Collect a JSON body; act on each SSE message as it arrives (True once the answer came)."""
        if self.kind != "sse":
            self.body.append(chunk)
            return False
        self._buffer += chunk
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                if len(self._buffer) > MAX_SSE_EVENT:
                    raise ResponseTooLarge(f"an SSE line exceeds {MAX_SSE_EVENT} bytes")
                return False
            end, skip = cut
            line, self._buffer = self._buffer[:end], self._buffer[end + skip :]
            message = self._line(line)
            if message is None:
                continue
            if "method" not in message and ("result" in message or "error" in message):
                self.final = message
                return True
            await _on_stream_message(self.call, self, message)

    def _line(self, line: bytes) -> dict[str, Any] | None:
        if not line:
            data, self._data, event, self._event, self._event_size = self._data, [], self._event, "", 0
            payload = b"\n".join(data)
            # An event without data (e.g. the priming event servers send for resumability) carries no message.
            if payload.strip() and event in ("", "message"):
                return self._message(payload)
            return None
        if line.startswith(b":"):
            return None
        field, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if field == b"data":
            self._event_size += len(value)
            if self._event_size > MAX_SSE_EVENT:
                raise ResponseTooLarge(f"an SSE event exceeds {MAX_SSE_EVENT} bytes")
            self._data.append(value)
        elif field == b"event":
            self._event = value.decode("utf-8", "replace")
        return None

    def _message(self, data: bytes) -> dict[str, Any]:
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise MCPError(code=types.PARSE_ERROR, message=f"Failed to parse SSE message: {exc}") from None
        if not isinstance(message, dict):
            raise MCPError(code=types.PARSE_ERROR, message="Failed to parse SSE message: not an object")
        return message


def _line_end(buffer: bytes) -> tuple[int, int] | None:
    """Where the first SSE line ends and how long its terminator is (\\r\\n, \\n or \\r)."""
    n = buffer.find(b"\n")
    r = buffer.find(b"\r")
    if r == -1 and n == -1:
        return None
    if r == -1 or (n != -1 and n < r):
        return n, 1
    if r + 1 < len(buffer):
        return r, 2 if buffer[r + 1 : r + 2] == b"\n" else 1
    return None  # a trailing \r may be the first half of \r\n


def _headers(call: LeanCall, stamped: dict[str, str]) -> list[tuple[str, str]]:
    """The headers the SDK's streamable-HTTP transport would send with this request."""
    merged: dict[str, tuple[str, str]] = {}
    for name, value in {**call.conn.target.headers, VIA_HEADER: call.conn.config.instance_id}.items():
        merged[name.lower()] = (name, value)
    merged["accept"] = ("Accept", "application/json, text/event-stream")
    merged["content-type"] = ("Content-Type", "application/json")
    if call.conn.wire.session_id:
        merged["mcp-session-id"] = ("mcp-session-id", call.conn.wire.session_id)
    for name, value in stamped.items():
        merged[name.lower()] = (name, value)
    return list(merged.values())


def _request(call: LeanCall, request_id: int) -> tuple[bytes, list[tuple[str, str]]]:
    session = call.client.session
    data = types.CallToolRequest(
        params=types.CallToolRequestParams(name=call.name, arguments=call.arguments, _meta=call.meta or None)
    ).model_dump(by_alias=True, mode="json", exclude_none=True)
    opts: dict[str, Any] = {}
    session._stamp(data, opts)
    params = dict(data.get("params") or {})
    meta = dict(params.get("_meta") or {})
    if call.options.on_progress is not None:
        meta["progressToken"] = request_id
    inject_trace_context(meta)
    if meta:
        params["_meta"] = meta
    else:
        params.pop("_meta", None)
    body = orjson.dumps({"jsonrpc": "2.0", "id": request_id, "method": METHOD, "params": params})
    return body, _headers(call, opts.get("headers") or {})


def _next_id(call: LeanCall) -> int:
    """A request id from the session's own counter, so it never collides with the SDK's."""
    allocate = getattr(call.client.session._dispatcher, "_allocate_id", None)
    return allocate() if allocate is not None else call.conn.next_lean_id()


async def _post(call: LeanCall, body: bytes, headers: list[tuple[str, str]], exchange: _Exchange) -> None:
    """POST once; a connection that failed before the request left this process is replaced once."""
    try:
        await call.http.post(body, headers, exchange.on_response, exchange.on_body)
    except UpstreamClosed as exc:
        if exc.sent or exchange.response is not None:
            raise ConnectionLost(str(exc)) from None
        try:
            await call.http.post(body, headers, exchange.on_response, exchange.on_body)
        except UpstreamClosed as again:
            raise ConnectionLost(str(again)) from None


async def _send(call: LeanCall, seconds: float) -> dict[str, Any]:
    """Send the tools/call and return the raw JSON-RPC result (MCPError on an error answer)."""
    request_id = _next_id(call)
    body, headers = _request(call, request_id)
    exchange = _Exchange(call, request_id)
    call.conn.lean_calls += 1
    try:
        async with asyncio.timeout(seconds):
            await _post(call, body, headers, exchange)
    except TimeoutError:
        _courtesy_cancel(call, request_id, f"timed out after {seconds}s")
        raise MCPError(code=types.REQUEST_TIMEOUT, message=f"Request {METHOD!r} timed out") from None
    except asyncio.CancelledError:
        _courtesy_cancel(call, request_id, "caller cancelled")
        raise
    except ResponseTooLarge as exc:
        raise MCPError(code=types.INTERNAL_ERROR, message=f"response too large: {exc}") from None
    return _outcome(call, exchange)


def _outcome(call: LeanCall, exchange: _Exchange) -> dict[str, Any]:
    """The SDK transport's reading of a finished response, as a result dict or MCPError."""
    response = exchange.response
    assert response is not None
    status = response.status
    if status == 202:
        raise MCPError(code=types.INVALID_REQUEST, message="server answered a request with 202 Accepted")
    if 300 <= status < 400:
        raise MCPError(
            code=types.INVALID_REQUEST,
            message=f"Redirect to {response.headers.get('location', '?')} not followed; "
            "use that URL as the endpoint if it is the intended server",
        )
    if status >= 400:
        if exchange.kind == "json":
            with contextlib.suppress(orjson.JSONDecodeError):
                parsed = orjson.loads(b"".join(exchange.body))
                if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict) and "result" not in parsed:
                    _raise_error(parsed["error"])
        if status == 404:
            if call.conn.wire.session_id:
                raise ConnectionLost("the upstream no longer knows this session (HTTP 404): it expired")
            raise MCPError(code=types.METHOD_NOT_FOUND, message="Not Found")
        raise MCPError(code=types.INTERNAL_ERROR, message="Server returned an error response")
    if exchange.kind == "json":
        try:
            message = orjson.loads(b"".join(exchange.body))
        except orjson.JSONDecodeError as exc:
            raise MCPError(code=types.PARSE_ERROR, message=f"Failed to parse JSON response: {exc}") from None
    elif exchange.kind == "sse":
        if exchange.final is None:
            raise ConnectionLost("SSE stream ended without a response")
        message = exchange.final
    else:
        content_type = response.headers.get("content-type", "").lower()
        raise MCPError(code=types.INVALID_REQUEST, message=f"Unexpected content type: {content_type}")
    if not isinstance(message, dict):
        raise MCPError(code=types.PARSE_ERROR, message="Failed to parse JSON response: not a JSON-RPC message")
    if isinstance(message.get("error"), dict):
        _raise_error(message["error"])
    result = message.get("result")
    if not isinstance(result, dict):
        raise MCPError(code=types.PARSE_ERROR, message="Failed to parse JSON response: no result object")
    return result


def _raise_error(error: dict[str, Any]) -> None:
    try:
        data = types.ErrorData.model_validate(error)
    except Exception:
        raise MCPError(code=types.PARSE_ERROR, message="Failed to parse JSON response: malformed error") from None
    raise MCPError(code=data.code, message=data.message, data=data.data)


async def _on_stream_message(call: LeanCall, exchange: _Exchange, message: dict[str, Any]) -> None:
    """A notification or server request on the call's SSE stream, delivered like the SDK delivers it."""
    method = message.get("method")
    params = message.get("params") if isinstance(message.get("params"), dict) else {}
    if "id" in message and isinstance(method, str):
        call.conn.upstream_asked = True  # later calls go the SDK way, which serves these natively
        await _answer(call, message["id"], method, params)
        return
    if method == "notifications/progress":
        on_progress = call.options.on_progress
        if on_progress is not None and params.get("progressToken") == exchange.request_id:
            try:
                await on_progress(params.get("progress"), params.get("total"), params.get("message"))
            except Exception:
                logger.exception("progress callback raised")
    elif method == "notifications/message":
        try:
            log = types.LoggingMessageNotificationParams.model_validate(params)
        except Exception:
            logger.debug("upstream %s: malformed log message dropped", call.conn.name)
            return
        await call.conn.relay.logging(log)
    elif isinstance(method, str):
        await call.conn.deliver_event(method, params)


async def _answer(call: LeanCall, request_id: Any, method: str, params: dict[str, Any]) -> None:
    """Answer an upstream's request through the relay and POST the JSON-RPC response back."""
    relay = call.conn.relay
    answer: Any
    try:
        if method == "sampling/createMessage":
            answer = await relay.sampling(None, types.CreateMessageRequestParams.model_validate(params))  # type: ignore[arg-type]
        elif method == "elicitation/create":
            answer = await relay.elicitation(None, types.ElicitRequestParams.model_validate(params))  # type: ignore[arg-type]
        elif method == "roots/list":
            answer = await relay.list_roots(None)  # type: ignore[arg-type]
        elif method == "ping":
            answer = types.EmptyResult()
        else:
            answer = types.ErrorData(code=types.METHOD_NOT_FOUND, message="Method not found")
    except Exception as exc:
        answer = types.ErrorData(code=types.INVALID_PARAMS, message=f"Invalid request parameters: {exc}"[:500])
    dumped = answer.model_dump(by_alias=True, mode="json", exclude_none=True)
    reply = {"jsonrpc": "2.0", "id": request_id}
    reply["error" if isinstance(answer, types.ErrorData) else "result"] = dumped
    headers = _headers(call, {"MCP-Protocol-Version": call.client.protocol_version})
    sink = _Exchange(call, -1)
    try:
        await call.http.post(orjson.dumps(reply), headers, sink.on_response, sink.on_body)
    except (UpstreamClosed, ResponseTooLarge) as exc:
        logger.warning("upstream %s: answering %s failed: %s", call.conn.name, method, exc)


def _courtesy_cancel(call: LeanCall, request_id: int, reason: str) -> None:
    """Handshake revisions: tell the upstream an abandoned request is cancelled (2026-07-28: closing is the signal)."""
    if call.modern:
        return
    body = orjson.dumps(
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": request_id, "reason": reason}}
    )
    headers = _headers(call, {"MCP-Protocol-Version": call.client.protocol_version})
    sink = _Exchange(call, -1)

    async def send() -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await call.http.post(body, headers, sink.on_response, sink.on_body)

    call.conn.spawn(send())


def _typed(call: LeanCall, raw: dict[str, Any]) -> Any:
    """The SDK session's reading of a tools/call result: revision checks, then its result model."""
    session = call.client.session
    _clamp_inbound_ttl(raw)
    version = session._negotiated_version or "2025-11-25"
    with contextlib.suppress(KeyError):
        _methods.validate_server_result(METHOD, version, raw)
    foreign = _later_revision_fields(METHOD, version)
    if not foreign.isdisjoint(raw):
        raw = {key: value for key, value in raw.items() if key not in foreign}
    return session._call_tool_adapter.validate_python(raw, by_name=False)


async def run(call: LeanCall, seconds: float) -> types.CallToolResult:
    """Run the call: first round on the lean path, any further round the SDK client's own way."""
    client, session = call.client, call.client.session

    async def sdk_round(responses: Any, state: str | None) -> Any:
        return await session.call_tool(
            call.name,
            call.arguments,
            read_timeout_seconds=seconds,
            progress_callback=call.options.on_progress,
            input_responses=responses,
            request_state=state,
            meta=call.meta,
            allow_input_required=True,
            allow_claimed=True,
        )

    try:
        result = _typed(call, await _send(call, seconds))
        if isinstance(result, types.CallToolResult) and not result.is_error:
            await session.validate_tool_result(call.name, result)
    except MCPError as mismatch:
        if mismatch.code != types.HEADER_MISMATCH or not call.modern:
            raise
        # The SDK client's recovery: the tool's listing is stale, so re-list and resend once.
        try:
            async with asyncio.timeout(seconds):
                await client._relist_tool(call.name)
        except (MCPError, TimeoutError) as relist_error:
            raise mismatch from relist_error
        result = await sdk_round(None, None)
    if isinstance(result, types.InputRequiredResult):
        call.conn.upstream_asked = True
        result = await client._drive_input_required(result, sdk_round)
    if not isinstance(result, types.CallToolResult):
        raise MCPError(code=types.INTERNAL_ERROR, message=f"unexpected tools/call result {type(result).__name__}")
    return result
