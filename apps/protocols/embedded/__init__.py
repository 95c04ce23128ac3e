"""The in-process binding of the core SPI: each family implemented over the core's services.

A protocol module running embedded gets its ``CoreServices`` from ``core_services()``;
a sidecar module gets the same families over a socket. One file per family.
"""

from __future__ import annotations

from functools import cache

from apps.protocols.spi import CoreServices

__all__ = ["core_services"]


@cache
def core_services() -> CoreServices:
    """The process-wide bundle of embedded core services."""
    from .auth import EmbeddedAuthService
    from .catalog import EmbeddedCatalogService
    from .config import EmbeddedConfigService
    from .oauth import EmbeddedOAuthStore
    from .observability import EmbeddedObservabilityService
    from .plugins import EmbeddedPluginService
    from .sessions import EmbeddedSessionService

    return CoreServices(
        auth=EmbeddedAuthService(),
        catalog=EmbeddedCatalogService(),
        sessions=EmbeddedSessionService(),
        plugins=EmbeddedPluginService(),
        observability=EmbeddedObservabilityService(),
        config=EmbeddedConfigService(),
        oauth=EmbeddedOAuthStore(),
    )
