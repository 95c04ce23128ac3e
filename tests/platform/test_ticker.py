"""The in-process ticker that runs periodic jobs in the embedded default."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from celery import shared_task

from contextforge.ticker import Ticker, interval_jobs

CALLS: list[str] = []


@shared_task(name="tests.record_tick")
def record_tick(label: str) -> None:
    CALLS.append(label)


def test_only_fixed_intervals_become_jobs():
    from celery.schedules import crontab

    jobs = interval_jobs(
        {
            "every-minute": {"task": "a", "schedule": 60},
            "every-hour": {"task": "b", "schedule": timedelta(hours=1), "args": (1,)},
            "nightly": {"task": "c", "schedule": crontab(hour=3)},
        }
    )
    assert [(job.name, job.every, job.args) for job in jobs] == [
        ("every-minute", 60.0, ()),
        ("every-hour", 3600.0, (1,)),
    ]


async def test_ticker_runs_due_jobs_until_stopped():
    CALLS.clear()
    ticker = Ticker({"tick": {"task": "tests.record_tick", "schedule": 0.02, "args": ("x",)}}, resolution=0.01)
    ticker.start()
    for _ in range(500):
        if len(CALLS) >= 2:
            break
        await asyncio.sleep(0.01)
    await ticker.stop()
    ran = len(CALLS)
    assert ran >= 2
    assert ticker.runs["tick"] == ran
    await asyncio.sleep(0.05)
    assert len(CALLS) == ran  # stopped means stopped


async def test_a_failing_job_does_not_stop_the_ticker():
    ticker = Ticker({"broken": {"task": "no.such.task", "schedule": 0.01}}, resolution=0.01)
    ticker.start()
    await asyncio.sleep(0.05)
    assert ticker._task is not None and not ticker._task.done()
    await ticker.stop()
    assert ticker.runs["broken"] == 0


def test_every_scheduled_job_names_a_registered_task():
    from django.conf import settings

    from contextforge.celery import app

    app.loader.import_default_modules()
    jobs = interval_jobs(settings.CELERY_BEAT_SCHEDULE)
    assert jobs, "the apps schedule periodic jobs"
    missing = [job.task for job in jobs if job.task not in app.tasks]
    assert missing == []
