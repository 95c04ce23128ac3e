"""URL routes of the MCP module's ASGI apps (HTTP streams and WebSocket), mounted by contextforge/asgi.py."""

from __future__ import annotations

from django.urls import re_path

from .transports.rpc import RPCEndpoint
from .transports.sse import SSEMessageEndpoint, SSEStreamEndpoint
from .transports.streamable import StreamableHTTPEndpoint
from .transports.websocket import WebSocketEndpoint
from .transports.wellknown import ProtectedResourceMetadata

_SERVER = r"servers/(?P<server_id>[A-Za-z0-9_.-]{1,64})"

http_urlpatterns: list = [
    re_path(r"^mcp/?$", StreamableHTTPEndpoint()),
    re_path(rf"^{_SERVER}/mcp/?$", StreamableHTTPEndpoint()),
    re_path(r"^sse/?$", SSEStreamEndpoint()),
    re_path(rf"^{_SERVER}/sse/?$", SSEStreamEndpoint()),
    re_path(r"^message/?$", SSEMessageEndpoint()),
    re_path(rf"^{_SERVER}/message/?$", SSEMessageEndpoint()),
    re_path(r"^rpc/?$", RPCEndpoint()),
    re_path(r"^\.well-known/oauth-protected-resource(?P<resource>/.*)?$", ProtectedResourceMetadata()),
]
websocket_urlpatterns: list = [
    re_path(r"^ws/?$", WebSocketEndpoint()),
    re_path(rf"^{_SERVER}/ws/?$", WebSocketEndpoint()),
]
