"""Embedded ObservabilityService: invocation metrics into the catalog's batch buffer, audit entries."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from django.db import close_old_connections

from apps.catalog import metrics, services
from apps.protocols.spi import CallerContext

logger = logging.getLogger(__name__)

__all__ = ["EmbeddedObservabilityService"]


class EmbeddedObservabilityService:
    """ObservabilityService over ``apps.catalog.metrics`` and the catalog's audit service."""

    def record_invocation(self, kind: str, entity_id: str, context: CallerContext, **fields: Any) -> None:
        """Queue one invocation metric (written in batches, off the hot path)."""
        metrics.record(
            kind=kind,
            entity_id=str(entity_id),
            user_id=context.user_id,
            token_id=context.token_id or "",
            **fields,
        )

    def audit(self, action: str, context: CallerContext, **fields: Any) -> None:
        """Queue an audit entry: written at once from sync code, on a worker thread from an event loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write(action, context, fields)
            return
        loop.run_in_executor(None, self._write, action, context, fields)

    @staticmethod
    def _write(action: str, context: CallerContext, fields: dict[str, Any]) -> None:
        close_old_connections()
        services.record_audit(context, action, **fields)
