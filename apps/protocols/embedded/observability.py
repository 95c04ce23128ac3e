"""Embedded ObservabilityService: invocation metrics into the catalog's batch buffer, audit entries."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from django.db import close_old_connections

from apps.catalog import metrics
from apps.catalog.models import AuditEntry
from apps.protocols.spi import CallerContext

logger = logging.getLogger(__name__)

__all__ = ["EmbeddedObservabilityService"]

_AUDIT_FIELDS = {"entity_type", "entity_id"}


class EmbeddedObservabilityService:
    """ObservabilityService over ``apps.catalog.metrics`` and ``AuditEntry``."""

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
        AuditEntry.objects.create(
            action=action[:64],
            actor_id=context.user_id,
            actor_email=context.email,
            token_id=context.token_id or "",
            client_ip=context.client_ip,
            entity_type=str(fields.pop("entity_type", ""))[:32],
            entity_id=str(fields.pop("entity_id", ""))[:64],
            detail={k: v if isinstance(v, str | int | float | bool | None) else str(v) for k, v in fields.items()},
        )
