"""URL routes of the MCP module's ASGI consumers (HTTP streams and WebSocket)."""

from __future__ import annotations

# Filled by the MCP serving side: (path pattern, consumer) pairs mounted by contextforge/asgi.py.
http_urlpatterns: list = []
websocket_urlpatterns: list = []
