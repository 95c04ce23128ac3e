"""Opaque pagination cursors.

A cursor is the offset of the next page, bound to the list it pages through (method and
server) and signed with the project secret, so a client can neither forge one nor move
it to another list. Any cursor that does not verify is an invalid-params error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from django.conf import settings

from .errors import INVALID_PARAMS, RpcError

__all__ = ["decode_cursor", "encode_cursor", "page_size", "paginate"]
_MAX_CURSOR_CHARS = 256


def _mac(scope: str, offset: int) -> str:
    key = hashlib.sha256(b"mcp-cursor:" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, f"{scope}|{offset}".encode(), hashlib.sha256).hexdigest()[:16]


def encode_cursor(scope: str, offset: int) -> str:
    """The cursor naming ``offset`` in the list identified by ``scope``."""
    raw = f"{offset}.{_mac(scope, offset)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(scope: str, cursor: object) -> int:
    """The offset a cursor names; RpcError(invalid params) when it is not one of ours."""
    if not isinstance(cursor, str) or not cursor or len(cursor) > _MAX_CURSOR_CHARS:
        raise RpcError(INVALID_PARAMS, "Invalid cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        offset_text, mac = raw.split(".", 1)
        offset = int(offset_text)
    except (ValueError, UnicodeDecodeError):
        raise RpcError(INVALID_PARAMS, "Invalid cursor") from None
    if offset < 0 or not hmac.compare_digest(mac, _mac(scope, offset)):
        raise RpcError(INVALID_PARAMS, "Invalid cursor")
    return offset


def page_size() -> int:
    """Items per page of every list method (``MCP_LIST_PAGE_SIZE``)."""
    return settings.MCP_LIST_PAGE_SIZE


def paginate(items: list, scope: str, cursor: object) -> tuple[list, str | None]:
    """One page of ``items`` starting at ``cursor`` (None: the first), and the next cursor."""
    start = 0 if cursor is None else decode_cursor(scope, cursor)
    size = page_size()
    page = items[start : start + size]
    end = start + size
    return page, (encode_cursor(scope, end) if end < len(items) else None)
