"""POST /rpc: plain JSON-RPC, one message in, one JSON answer out, no session.

ContextForge's automation endpoint: scripts call tools/list, tools/call, ... directly,
without a handshake (the latest handshake revision's rules apply; a request carrying
the 2026-07-28 envelope is served by that revision's rules instead).
"""

from __future__ import annotations

import secrets
from typing import Any

from ..context import RequestContext
from ..dispatcher import handle_message, parse
from ..errors import INVALID_REQUEST, RpcError, error_response
from ..revisions import LATEST_HANDSHAKE
from .base import Caller, HTTPEndpoint
from .common import BodyTooLarge, read_body, send_json, send_status

__all__ = ["RPCEndpoint"]


class RPCEndpoint(HTTPEndpoint):
    """The /rpc transport."""

    async def serve(self, scope: dict[str, Any], receive, send, caller: Caller) -> None:
        if scope["method"] != "POST":
            await send_status(send, 405, {"allow": "POST"})
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
        context = RequestContext(
            services=caller.services,
            principal=caller.principal,
            transport="rpc",
            default_revision=LATEST_HANDSHAKE,
            stream_key=f"rpc-{secrets.token_hex(8)}",
            caller_headers=caller.headers,
        )
        response = await handle_message(context, message)
        if response is None:
            await send_status(send, 202)
        else:
            await send_json(send, 200, response)
