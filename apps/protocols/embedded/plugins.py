"""Embedded PluginService: runs the core plugin registry's hook chains."""

from __future__ import annotations

from typing import Any

from apps.plugins.base import HOOKS, PluginViolation
from apps.plugins.registry import registry
from apps.protocols.spi import CallerContext, CatalogError

__all__ = ["EmbeddedPluginService"]


class EmbeddedPluginService:
    """PluginService over ``apps.plugins.registry``; a blocking plugin becomes CatalogError forbidden."""

    async def run_hook(self, hook: str, context: CallerContext, payload: dict[str, Any]) -> dict[str, Any]:
        """Return the (possibly modified) payload; raise CatalogError to block."""
        if hook not in HOOKS:
            raise CatalogError("invalid_arguments", f"unknown hook point {hook!r}")
        try:
            return await registry.run(hook, context, payload)
        except PluginViolation as exc:
            raise CatalogError("forbidden", exc.message, {"plugin": exc.plugin, "violation": exc.code}) from exc
