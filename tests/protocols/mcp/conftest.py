"""A live in-process gateway (uvicorn on a thread) serving the MCP transports over the fake SPI."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from channels.layers import channel_layers

from apps.protocols.mcp.transports.common import use_services
from tests.protocols.mcp.fakes import FakeCatalog, fake_services
from tests.servers import free_port


class LiveGateway:
    """The ASGI application on a real socket, for transport tests."""

    def __init__(self) -> None:
        from contextforge.asgi import application

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.catalog = FakeCatalog()
        self.services = fake_services(self.catalog)
        config = uvicorn.Config(application, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning")
        self.server = uvicorn.Server(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LiveGateway:
        # A channels-redis layer serves one event loop; this server runs a fresh one.
        channel_layers.backends.clear()
        use_services(self.services)
        self.thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/rpc", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("in-process gateway did not start")

    def loop(self) -> asyncio.AbstractEventLoop:
        """The server thread's event loop."""
        return self._loop

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self.server.serve())
        self._loop.close()

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        use_services(None)


@pytest.fixture
def gateway(settings) -> Iterator[LiveGateway]:
    """A live gateway on a free port with MCP_REQUIRE_AUTH on and fast keep-alives."""
    settings.MCP_REQUIRE_AUTH = True
    settings.MCP_SSE_KEEPALIVE = 1
    with LiveGateway() as live:
        yield live
