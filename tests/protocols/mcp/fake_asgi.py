"""The gateway's ASGI application serving over the fake SPI catalog/auth (test processes only).

Session records and streams still go through the real embedded session service, so two
processes started with this entry point share sessions through Redis like production.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contextforge.settings")

from apps.protocols.mcp.transports.common import use_services
from contextforge.asgi import application
from tests.protocols.mcp.fakes import fake_services

use_services(fake_services())

__all__ = ["application"]
