"""Streamable HTTP at /mcp and /servers/<id>/mcp.

POST carries one client message (or a 2025-03-26 batch). A request is answered with
JSON, or with an SSE stream once the handler emits a notification (progress, log) —
the choice is made lazily, as the SDKs do, so quick answers stay plain JSON. GET opens
the session's server→client stream (resumable with Last-Event-ID), DELETE ends the
session everywhere. Handshake-era sessions live in the shared session store; 2026-07-28
requests carry everything they need and use no session.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS

from ..context import RequestContext
from ..dispatcher import handle_message, parse
from ..errors import INVALID_REQUEST, PARSE_ERROR, RpcError, error_response
from ..revisions import SUPPORTED_REVISIONS
from ..sessions import EventLog, create_session, end_session, load_session, open_session_stream, save_session
from .base import Caller, HTTPEndpoint
from .common import (
    SSE_HEADERS,
    BodyTooLarge,
    module,
    pipe_sse,
    read_body,
    send_json,
    send_status,
    sse_frame,
    wait_disconnect,
)

__all__ = ["StreamableHTTPEndpoint"]

SESSION_HEADER = "mcp-session-id"


def _is_request(message: Any) -> bool:
    return isinstance(message, dict) and "method" in message and "id" in message


def _has_request(message: Any) -> bool:
    if isinstance(message, list):
        return any(_is_request(m) for m in message)
    return _is_request(message)


def _status(response: Any, stateless: bool) -> int:
    """HTTP status of a JSON reply: errors of the envelope are 400; 2026-07-28 maps every code."""
    if not isinstance(response, dict) or "error" not in response:
        return 200
    code = response["error"]["code"]
    if code in (PARSE_ERROR, INVALID_REQUEST):
        return 400
    return ERROR_CODE_HTTP_STATUS.get(code, 200) if stateless else 200


class StreamableHTTPEndpoint(HTTPEndpoint):
    """The streamable HTTP transport."""

    async def serve(self, scope: dict[str, Any], receive, send, caller: Caller) -> None:
        method = scope["method"]
        if method == "POST":
            await self._post(receive, send, caller)
        elif method == "GET":
            await self._get(receive, send, caller)
        elif method == "DELETE":
            await self._delete(send, caller)
        else:
            await send_status(send, 405, {"allow": "GET, POST, DELETE"})

    async def _post(self, receive, send, caller: Caller) -> None:
        headers = caller.headers
        accept = headers.get("accept", "")
        sse_ok = "text/event-stream" in accept or "*/*" in accept or not accept
        try:
            body = await read_body(receive)
        except BodyTooLarge:
            await send_json(send, 413, error_response(None, INVALID_REQUEST, "Request body too large"))
            return
        try:
            message = parse(body)
        except RpcError as exc:
            await send_json(send, 400, error_response(None, exc.code, exc.message))
            return
        svc = caller.services
        session = None
        reply_headers: dict[str, str] = {}
        if isinstance(message, dict) and message.get("method") == "initialize" and "id" in message:
            session = await create_session(svc, caller.principal, caller.server_id)
        elif headers.get(SESSION_HEADER):
            session = await load_session(svc, headers[SESSION_HEADER], caller.principal, caller.server_id)
            if session is None:
                await send_json(send, 404, error_response(None, INVALID_REQUEST, "Session not found"))
                return
            version = headers.get("mcp-protocol-version")
            if version is not None and version not in SUPPORTED_REVISIONS:
                await send_json(
                    send, 400, error_response(None, INVALID_REQUEST, f"Unsupported protocol version: {version}")
                )
                return
        context = RequestContext(
            services=svc,
            principal=caller.principal,
            server_id=caller.server_id,
            transport="streamable-http",
            session=session,
            headers=headers,
            stream_key=session.id if session else f"http-{secrets.token_hex(8)}",
            server_name=caller.server.name if caller.server else None,
            caller_headers=headers,
        )
        if not _has_request(message):
            response = await handle_message(context, message)
            if session is not None:
                await save_session(svc, session)
            if response is not None:
                await send_json(send, 400, response)
            else:
                await send_status(send, 202)
            return
        stop = asyncio.Event()
        context.extras["stop"] = stop
        if sse_ok and not isinstance(message, list):
            await self._answer_streaming(receive, send, context, message, stop)
            return
        response = await handle_message(context, message)
        await self._answered(send, context, response, reply_headers)

    async def _answered(self, send, context: RequestContext, response: Any, headers: dict[str, str]) -> None:
        session = context.session
        if session is not None:
            if session.protocol_version is None:  # initialize failed: no session comes of it
                session = None
            else:
                await save_session(context.services, session)
                headers[SESSION_HEADER] = session.id
        if response is None:
            await send_status(send, 202, headers)
        else:
            await send_json(send, _status(response, session is None), response, headers)

    async def _answer_streaming(self, receive, send, context: RequestContext, message: Any, stop) -> None:
        """Answer JSON if the handler finishes quietly; switch to SSE at its first notification."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def outbound(note: dict[str, Any]) -> None:
            await queue.put(note)

        context.send = outbound
        handler = asyncio.ensure_future(handle_message(context, message))
        disconnect = asyncio.ensure_future(wait_disconnect(receive))
        next_note = asyncio.ensure_future(queue.get())
        try:
            done, _ = await asyncio.wait({handler, next_note, disconnect}, return_when=asyncio.FIRST_COMPLETED)
            if disconnect in done:
                return
            if handler in done and next_note not in done and queue.empty():
                await self._answered(send, context, handler.result(), {})
                return
            headers = list(SSE_HEADERS)
            if context.session is not None and context.session.protocol_version:
                await save_session(context.services, context.session)
                headers.append((SESSION_HEADER.encode(), context.session.id.encode()))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            while True:
                if next_note.done():
                    note = next_note.result()
                    await send({"type": "http.response.body", "body": sse_frame(note), "more_body": True})
                    next_note = asyncio.ensure_future(queue.get())
                    continue
                if handler.done() and queue.empty():
                    break
                waiting = {next_note, disconnect} if handler.done() else {handler, next_note, disconnect}
                done, _ = await asyncio.wait(waiting, timeout=module_keepalive(), return_when=asyncio.FIRST_COMPLETED)
                if disconnect in done:
                    return
                if not done:
                    await send({"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True})
                if not module().accepting():
                    stop.set()
            response = handler.result()
            if context.session is not None and context.session.dirty:
                await save_session(context.services, context.session)
            tail = sse_frame(response) if response is not None else b""
            await send({"type": "http.response.body", "body": tail, "more_body": False})
        finally:
            for task in (handler, next_note, disconnect):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task

    async def _get(self, receive, send, caller: Caller) -> None:
        headers = caller.headers
        session_id = headers.get(SESSION_HEADER)
        if not session_id:
            await send_status(send, 405, {"allow": "POST, DELETE"})
            return
        if "text/event-stream" not in headers.get("accept", "text/event-stream"):
            await send_status(send, 406, message="GET needs Accept: text/event-stream")
            return
        svc = caller.services
        session = await load_session(svc, session_id, caller.principal, caller.server_id)
        if session is None:
            await send_json(send, 404, error_response(None, INVALID_REQUEST, "Session not found"))
            return
        log = EventLog(svc, session.id)
        last_event_id = headers.get("last-event-id")

        stream = await open_session_stream(svc, session)  # subscribed before the client sees the stream open

        async def frames():
            if last_event_id:
                for event_id, message in await log.after(last_event_id):
                    yield sse_frame(message, event_id=event_id)
            async for message in stream:
                event_id = await log.append(message)
                yield sse_frame(message, event_id=event_id)

        async def valid() -> bool:
            return await svc.sessions.load_session(session.id) is not None

        start = [*SSE_HEADERS, (SESSION_HEADER.encode(), session.id.encode())]
        try:
            await send({"type": "http.response.start", "status": 200, "headers": start})
            await pipe_sse(receive, send, frames(), keepalive=module_keepalive(), alive=module().accepting, valid=valid)
        finally:
            await stream.close()

    async def _delete(self, send, caller: Caller) -> None:
        session_id = caller.headers.get(SESSION_HEADER)
        if not session_id:
            await send_json(send, 400, error_response(None, INVALID_REQUEST, "Mcp-Session-Id header required"))
            return
        session = await load_session(caller.services, session_id, caller.principal, caller.server_id)
        if session is None:
            await send_json(send, 404, error_response(None, INVALID_REQUEST, "Session not found"))
            return
        await end_session(caller.services, session.id)
        await send_status(send, 200)


def module_keepalive() -> float:
    """Seconds of silence before an SSE keep-alive comment."""
    from django.conf import settings

    return float(settings.MCP_SSE_KEEPALIVE)
