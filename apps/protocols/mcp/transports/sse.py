"""Legacy HTTP+SSE (2024-11-05): GET /sse opens the stream, POST /message?session_id= feeds it.

The stream's first event names the endpoint to post to. Every reply and notification
of a session is published on that session's channel and written by whichever worker
holds the stream, so a POST may land on any worker, and one session's replies can never
reach another session's stream.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import parse_qs

from ..context import RequestContext
from ..dispatcher import handle_message, parse
from ..errors import INVALID_REQUEST, RpcError, error_response
from ..sessions import create_session, end_session, load_session, open_session_stream, save_session, session_channel
from .base import Caller, HTTPEndpoint
from .common import SSE_HEADERS, BodyTooLarge, module, pipe_sse, read_body, send_json, send_status, sse_frame
from .streamable import module_keepalive

logger = logging.getLogger(__name__)

__all__ = ["SSEMessageEndpoint", "SSEStreamEndpoint"]

#: Tasks handling posted messages after their 202 went out (kept referenced until done).
_background: set[asyncio.Task] = set()


class SSEStreamEndpoint(HTTPEndpoint):
    """GET /sse and /servers/<id>/sse."""

    async def serve(self, scope: dict[str, Any], receive, send, caller: Caller) -> None:
        if scope["method"] != "GET":
            await send_status(send, 405, {"allow": "GET"})
            return
        svc = caller.services
        session = await create_session(svc, caller.principal, caller.server_id)
        await save_session(svc, session)
        prefix = f"/servers/{caller.server_id}" if caller.server_id else ""
        endpoint = f"{scope.get('root_path', '')}{prefix}/message?session_id={session.id}"

        stream = await open_session_stream(svc, session)  # subscribed before the client learns the endpoint

        async def frames():
            yield sse_frame(endpoint, event="endpoint")
            async for message in stream:
                yield sse_frame(message)

        try:
            await send({"type": "http.response.start", "status": 200, "headers": list(SSE_HEADERS)})
            await pipe_sse(receive, send, frames(), keepalive=module_keepalive(), alive=module().accepting)
        finally:
            await stream.close()
            await end_session(svc, session.id)


class SSEMessageEndpoint(HTTPEndpoint):
    """POST /message?session_id= and /servers/<id>/message?session_id=."""

    async def serve(self, scope: dict[str, Any], receive, send, caller: Caller) -> None:
        if scope["method"] != "POST":
            await send_status(send, 405, {"allow": "POST"})
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        session_id = (query.get("session_id") or query.get("sessionId") or [""])[0]
        svc = caller.services
        session = await load_session(svc, session_id, caller.principal, caller.server_id)
        if session is None:
            await send_json(send, 404, error_response(None, INVALID_REQUEST, "Session not found"))
            return
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
        channel = session_channel(session.id)

        async def publish(note: dict[str, Any]) -> None:
            await svc.sessions.publish(channel, note)

        context = RequestContext(
            services=svc,
            principal=caller.principal,
            server_id=caller.server_id,
            transport="sse",
            session=session,
            send=publish,
            stream_key=session.id,
            server_name=caller.server.name if caller.server else None,
            default_revision=None,
            caller_headers=caller.headers,
        )
        await send_status(send, 202)
        task = asyncio.create_task(_handle(context, message))
        _background.add(task)
        task.add_done_callback(_background.discard)
        await task


async def _handle(context: RequestContext, message: Any) -> None:
    """Handle one posted message and publish its reply on the session's stream."""
    try:
        response = await handle_message(context, message)
        if context.session is not None:
            await save_session(context.services, context.session)
        if response is not None and context.send is not None:
            await context.send(response)
    except Exception:
        logger.exception("SSE message handling failed")
