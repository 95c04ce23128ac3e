"""An in-process runner for periodic jobs, used when Celery runs tasks eagerly.

The embedded default has no beat process; this ticker runs the entries of
CELERY_BEAT_SCHEDULE whose schedule is a fixed interval (seconds or timedelta) in a
background asyncio task started by the ASGI lifespan. In production, celery beat with
django-celery-beat's database scheduler takes over and this ticker is not started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async

from contextforge.celery import app as celery_app

logger = logging.getLogger(__name__)

__all__ = ["Ticker", "interval_jobs"]


@dataclass
class _Job:
    name: str
    task: str
    every: float
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    due: float = 0.0


def interval_jobs(schedule: dict[str, dict[str, Any]]) -> list[_Job]:
    """Return the fixed-interval entries of a beat schedule as jobs; crontab entries are left to beat."""
    jobs = []
    for name, entry in schedule.items():
        every = entry.get("schedule")
        if isinstance(every, timedelta):
            every = every.total_seconds()
        if not isinstance(every, int | float) or every <= 0:
            logger.info("ticker: %s has no fixed interval; it runs only under celery beat", name)
            continue
        jobs.append(
            _Job(name, entry["task"], float(every), tuple(entry.get("args", ())), dict(entry.get("kwargs", {})))
        )
    return jobs


class Ticker:
    """Runs interval jobs in-process until stopped."""

    def __init__(self, schedule: dict[str, dict[str, Any]], *, resolution: float = 1.0) -> None:
        self.jobs = interval_jobs(schedule)
        self.resolution = resolution
        self.runs: dict[str, int] = {job.name: 0 for job in self.jobs}
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Start ticking in the running event loop (tasks modules are imported first)."""
        celery_app.loader.import_default_modules()
        now = time.monotonic()
        for job in self.jobs:
            job.due = now + job.every
        self._task = asyncio.create_task(self._loop(), name="contextforge-ticker")

    async def stop(self) -> None:
        """Stop ticking; a job in progress is allowed to finish."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.resolution)
            now = time.monotonic()
            for job in self.jobs:
                if now >= job.due:
                    job.due = now + job.every
                    await self._run(job)

    async def _run(self, job: _Job) -> None:
        try:
            task = celery_app.tasks[job.task]
            await sync_to_async(task.apply, thread_sensitive=False)(args=job.args, kwargs=job.kwargs)
            self.runs[job.name] += 1
        except Exception:
            logger.exception("ticker: periodic job %s failed", job.name)
