"""Periodic jobs of the catalog (scheduled in settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from . import federation, metrics, services


@shared_task(name="catalog.flush_metrics")
def flush_metrics() -> int:
    """Write this process's buffered invocation metrics."""
    return metrics.flush()


@shared_task(name="catalog.rollup_metrics")
def rollup_metrics() -> int:
    """Aggregate recent invocation metrics into hourly rollups."""
    return metrics.rollup()


@shared_task(name="catalog.prune_metrics")
def prune_metrics() -> list[int]:
    """Apply the metrics retention periods."""
    return list(metrics.prune())


@shared_task(name="catalog.check_gateways")
def check_gateways() -> dict:
    """Health-check every enabled upstream gateway (ping on the pooled session)."""
    return federation.check_gateways()


@shared_task(name="catalog.sync_gateways")
def sync_gateways() -> dict:
    """Federation sync of every enabled upstream gateway."""
    return federation.sync_gateways()


@shared_task(name="catalog.sync_gateway")
def sync_gateway_task(gateway_id: str) -> dict:
    """Federation sync of one gateway (queued when its upstream announces a list change)."""
    return services.sync_gateway(gateway_id)
