"""The pure MCP dispatcher: ``handle_message(context, message) -> response | None``.

Transport-agnostic: it takes one decoded JSON-RPC message (or batch) and a
``RequestContext`` and returns the response to send, or None for notifications,
client responses and cancelled requests. It decides the revision of each message,
enforces that revision's rules (methods, batches, the 2026-07-28 envelope and header
checks), calls the handler and shapes the result. ``handle_bytes`` adds JSON parsing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import orjson
from mcp.shared.inbound import InboundLadderRejection, classify_inbound_request
from mcp_types import PROTOCOL_VERSION_META_KEY, SERVER_INFO_META_KEY

from .context import RequestContext
from .errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcError,
    error_response,
)
from .inflight import inflight
from .methods import (
    CANCELLABLE,
    REQUEST_HANDLERS,
    SERVER_NAME,
    SERVER_VERSION,
    Call,
    handle_client_response,
    handle_notification,
)
from .revisions import LATEST_HANDSHAKE, MODERN_REVISIONS, allows_batches, is_modern, methods_of

logger = logging.getLogger(__name__)

__all__ = ["MAX_BATCH", "handle_bytes", "handle_message", "parse"]

#: Most messages accepted in one batch.
MAX_BATCH = 100
_INT64 = 2**63
_CACHEABLE = frozenset(
    {"server/discover", "tools/list", "resources/list", "resources/templates/list", "prompts/list", "resources/read"}
)
_CANCELLED = object()


def parse(body: bytes | str) -> Any:
    """Decode a JSON body; RpcError(parse error) when it is not JSON.

    orjson first (fast path); the standard library decides the rare documents orjson
    refuses but JSON allows (integers beyond 64 bits), within its own limits.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise RpcError(PARSE_ERROR, "Parse error: the body is not valid JSON") from None


async def handle_bytes(context: RequestContext, body: bytes | str) -> Any:
    """Parse and handle a raw message: the response to send, or None."""
    try:
        message = parse(body)
    except RpcError as exc:
        return error_response(None, exc.code, exc.message)
    return await handle_message(context, message)


def _valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -_INT64 <= value < _INT64
    return isinstance(value, str) and len(value) <= 1024


async def handle_message(context: RequestContext, message: Any) -> Any:
    """Handle one decoded JSON-RPC message or batch; the response, or None when none is owed."""
    if isinstance(message, list):
        return await _handle_batch(context, message)
    return await _handle_one(context, message, in_batch=False)


async def _handle_batch(context: RequestContext, batch: list) -> Any:
    revision = _session_revision(context)
    if revision is None or not allows_batches(revision):
        return error_response(None, INVALID_REQUEST, "JSON-RPC batches are not allowed in this protocol revision")
    if not batch:
        return error_response(None, INVALID_REQUEST, "Empty batch")
    if len(batch) > MAX_BATCH:
        return error_response(None, INVALID_REQUEST, f"Batch larger than {MAX_BATCH} messages")
    responses = []
    for item in batch:
        response = await _handle_one(context, item, in_batch=True)
        if response is not None:
            responses.append(response)
    return responses or None


def _session_revision(context: RequestContext) -> str | None:
    session = context.session
    if session is not None and session.protocol_version:
        return session.protocol_version
    return context.default_revision


async def _handle_one(context: RequestContext, message: Any, *, in_batch: bool) -> dict[str, Any] | None:
    if not isinstance(message, dict):
        return error_response(None, INVALID_REQUEST, "A JSON-RPC message must be an object")
    raw_id = message.get("id")
    request_id = raw_id if _valid_id(raw_id) else None
    if message.get("jsonrpc") != "2.0":
        return error_response(request_id, INVALID_REQUEST, 'jsonrpc must be "2.0"')
    if "method" not in message:
        # A client's response to a server→client request.
        if "id" in message and ("result" in message or "error" in message):
            try:
                await handle_client_response(context, message)
            except Exception:
                logger.exception("client response handling failed")
            return None
        return error_response(request_id, INVALID_REQUEST, "A request needs a method")
    method = message["method"]
    if not isinstance(method, str):
        return error_response(request_id, INVALID_REQUEST, "method must be a string")
    params = message.get("params")
    if params is not None and not isinstance(params, dict):
        if "id" not in message:
            return None
        return error_response(request_id, INVALID_PARAMS, "params must be an object")
    params = params or {}
    if "id" not in message:
        try:
            await handle_notification(context, method, params)
        except Exception:
            logger.exception("notification %s failed", method)
        return None
    if not _valid_id(raw_id):
        return error_response(None, INVALID_REQUEST, "id must be a string or a 64-bit integer")
    if in_batch and method == "initialize":
        return error_response(raw_id, INVALID_REQUEST, "initialize must not be part of a batch")
    try:
        call = _understand(context, raw_id, method, params)
        result = await _run(call, method)
    except RpcError as exc:
        return error_response(raw_id, exc.code, exc.message, exc.data)
    except Exception:
        logger.exception("MCP %s failed", method)
        return error_response(raw_id, INTERNAL_ERROR, "Internal error")
    if result is _CANCELLED:
        return None
    return {"jsonrpc": "2.0", "id": raw_id, "result": _finish(call, method, result)}


def _wants_modern(context: RequestContext, method: str, params: dict[str, Any]) -> bool:
    if method in ("server/discover", "subscriptions/listen"):
        return True
    meta = params.get("_meta")
    if isinstance(meta, dict) and PROTOCOL_VERSION_META_KEY in meta:
        return True
    headers = context.headers
    return headers is not None and headers.get("mcp-protocol-version") in MODERN_REVISIONS


def _understand(context: RequestContext, request_id: Any, method: str, params: dict[str, Any]) -> Call:
    """Decide the revision of one request and check it against that revision's rules.

    A session's negotiated revision wins; otherwise a request carrying the 2026-07-28
    envelope is checked by the SDK's inbound ladder (envelope keys, header agreement,
    supported version); otherwise the context's default revision applies, if any.
    """
    meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
    session = context.session
    if method == "initialize":
        return Call(context, LATEST_HANDSHAKE, request_id, params, meta)
    if session is not None and session.protocol_version:
        call = Call(context, session.protocol_version, request_id, params, meta, session.client_capabilities)
    elif _wants_modern(context, method, params):
        verdict = classify_inbound_request({"method": method, "params": params}, headers=context.headers)
        if isinstance(verdict, InboundLadderRejection):
            raise RpcError(verdict.code, verdict.message, verdict.data)
        capabilities = verdict.client_capabilities if isinstance(verdict.client_capabilities, dict) else {}
        call = Call(context, verdict.protocol_version, request_id, params, meta, capabilities)
    elif context.default_revision is not None:
        call = Call(context, context.default_revision, request_id, params, meta)
    else:
        raise RpcError(INVALID_REQUEST, "Not initialized: send initialize first, or a 2026-07-28 request with _meta")
    if method not in methods_of(call.revision) or method not in REQUEST_HANDLERS:
        raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")
    return call


async def _run(call: Call, method: str) -> Any:
    handler = REQUEST_HANDLERS[method]
    if method not in CANCELLABLE:
        return await handler(call)
    key = call.context.stream_key
    task = asyncio.ensure_future(handler(call))
    inflight.add(key, call.request_id, task)
    try:
        return await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if inflight.was_cancelled(task) and (current is None or not current.cancelling()):
            return _CANCELLED
        raise
    finally:
        inflight.discard(key, call.request_id)
        inflight.forget(task)


def _finish(call: Call, method: str, result: dict[str, Any]) -> dict[str, Any]:
    """Add what the revision requires on every result (2026-07-28: resultType, cache hints, serverInfo)."""
    if not is_modern(call.revision):
        return result
    result.setdefault("resultType", "complete")
    meta = dict(result.get("_meta") or {})
    meta.setdefault(SERVER_INFO_META_KEY, {"name": call.context.server_name or SERVER_NAME, "version": SERVER_VERSION})
    result["_meta"] = meta
    if method in _CACHEABLE:
        result["ttlMs"] = 0
        result["cacheScope"] = "public" if method == "server/discover" else "private"
    return result
