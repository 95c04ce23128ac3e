"""Periodic jobs of the catalog (scheduled in settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from . import metrics


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
