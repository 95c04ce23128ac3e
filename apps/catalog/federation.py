"""Federation upkeep: health checks of upstream gateways and catalog sync on upstream changes.

The core drives these through the MCP runtime's interface (``ping_all``, ``discover``,
``add_listener``, ``run_sync``) as registered in ``runtimes``; it never imports the
protocol module. Celery runs ``check_gateways`` and ``sync_gateways`` on a beat schedule
(the in-process ticker in the embedded default) and ``sync_gateway`` when an upstream
announces a list change.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings

from . import runtimes
from .models import Gateway
from .services import record_gateway_health, sync_gateway, upstream_target

logger = logging.getLogger(__name__)

__all__ = ["check_gateways", "on_upstream_event", "sync_gateways"]

#: Upstream notifications that mean "list again".
LIST_CHANGED = {
    "notifications/tools/list_changed",
    "notifications/resources/list_changed",
    "notifications/prompts/list_changed",
}

_pending: set[str] = set()


def check_gateways() -> dict[str, Any]:
    """Ping every enabled gateway on its pooled session and record the outcome (health history)."""
    runtime = runtimes.get_runtime("MCP")
    ping_all = getattr(runtime, "ping_all", None)
    if ping_all is None:
        return {"checked": 0, "error": "no MCP runtime in this process"}
    gateways = list(Gateway.objects.filter(enabled=True))
    if not gateways:
        return {"checked": 0, "unreachable": []}
    targets = [upstream_target(g) for g in gateways]
    budget = float(settings.GATEWAY_HEALTH_TIMEOUT)
    run_sync = getattr(runtime, "run_sync", None)
    if run_sync is not None:
        outcome = run_sync(ping_all, targets, budget=budget)
    else:
        outcome = async_to_sync(ping_all)(targets, budget=budget)
    threshold = settings.GATEWAY_HEALTH_FAILURE_THRESHOLD
    down = []
    for gateway in gateways:
        error = outcome.get(str(gateway.pk))
        record_gateway_health(gateway.pk, reachable=error is None, error=error or "", threshold=threshold)
        if error is not None:
            down.append(str(gateway.pk))
    return {"checked": len(gateways), "failed": down}


def sync_gateways() -> dict[str, Any]:
    """Federation sync of every enabled gateway."""
    reports = [sync_gateway(pk) for pk in Gateway.objects.filter(enabled=True).values_list("pk", flat=True)]
    return {"synced": sum(1 for r in reports if r.get("success")), "failed": [r for r in reports if not r["success"]]}


def _queue_sync(gateway_id: str) -> None:
    from .tasks import sync_gateway_task

    try:
        sync_gateway_task.delay(gateway_id)
    finally:
        _pending.discard(gateway_id)


async def on_upstream_event(gateway_id: str, method: str, params: dict[str, Any]) -> None:
    """Runtime listener: an upstream's list changed → queue a sync of that gateway (coalesced)."""
    if method not in LIST_CHANGED or gateway_id in _pending:
        return
    _pending.add(gateway_id)
    # Fire and forget: the notification handler must not wait for the sync it starts.
    asyncio.get_running_loop().create_task(sync_to_async(_queue_sync, thread_sensitive=False)(gateway_id))
