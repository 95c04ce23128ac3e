"""ASGI entry point: one ProtocolTypeRouter for HTTP, WebSocket and lifespan.

HTTP goes to the protocol modules' streaming consumers first (their URL patterns) and
to Django for everything else; WebSocket goes to the modules' consumers; lifespan
drives the module lifecycle.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contextforge.settings")

from django.core.asgi import get_asgi_application

from contextforge.observability import configure_tracing

configure_tracing()
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from apps.protocols.mcp import routing as mcp_routing  # noqa: E402
from contextforge.lifespan import Lifespan  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": URLRouter([*mcp_routing.http_urlpatterns, re_path(r"", django_asgi_app)]),
        # The MCP WebSocket endpoints check Host and Origin themselves (DNS-rebinding protection),
        # admitting non-browser clients that send no Origin, which AllowedHostsOriginValidator refuses.
        "websocket": URLRouter(mcp_routing.websocket_urlpatterns),
        "lifespan": Lifespan(),
    }
)
