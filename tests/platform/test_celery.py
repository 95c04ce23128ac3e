"""Celery: jobs queued after commit, and a real worker process on a real Redis broker."""

from __future__ import annotations

import sys
import time

import pytest
import redis
from celery import Celery
from django.db import transaction

from contextforge.celery import app
from contextforge.jobs import enqueue_on_commit
from contextforge.tasks import ping
from tests.servers import ROOT, ServerProcess, gateway_env


class RecordingTask:
    """Stands in for a Celery task; records apply_async calls."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def apply_async(self, args=(), kwargs=None):
        self.calls.append((args, kwargs))


@pytest.mark.django_db(transaction=True)
def test_job_is_queued_only_after_commit():
    task = RecordingTask()
    with transaction.atomic():
        enqueue_on_commit(task, 1, flag=True)
        assert task.calls == []
    assert task.calls == [((1,), {"flag": True})]


@pytest.mark.django_db(transaction=True)
def test_job_is_dropped_on_rollback():
    task = RecordingTask()
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_on_commit(task, 1)
        raise RuntimeError("write failed")
    assert task.calls == []


def test_tasks_are_eager_exactly_when_no_broker_is_configured():
    from django.conf import settings

    assert app.conf.task_always_eager is (not settings.REDIS_URL)
    assert app.conf.broker_url == (settings.REDIS_URL or "memory://")
    if app.conf.task_always_eager:
        assert ping.delay("hello").get(timeout=5)["payload"] == "hello"
    else:
        assert ping.apply(args=["hello"]).get()["payload"] == "hello"


def _worker_answers(client: Celery, name: str) -> bool:
    try:
        return bool(client.control.inspect(timeout=0.5, destination=[name]).ping())
    except (redis.RedisError, OSError):
        return False


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_task_runs_in_a_real_worker_through_redis(redis_url):
    client = Celery("test-client", broker=redis_url, backend=redis_url, set_as_current=False)
    name = f"test-worker-{time.monotonic_ns()}@127.0.0.1"
    env = gateway_env(REDIS_URL=redis_url, CELERY_TASK_ALWAYS_EAGER="false")
    worker = ServerProcess(
        [sys.executable, "-m", "celery", "-A", "contextforge", "worker", "--pool", "solo", "-n", name, "-l", "INFO"],
        port=0,
        env=env,
        cwd=ROOT,
        ready=lambda: _worker_answers(client, name),
        startup_timeout=60,
    )
    try:
        with worker:
            result = client.send_task(ping.name, args=["through-redis"]).get(timeout=30)
            log = worker.output()
    finally:
        client.close()
    assert result["payload"] == "through-redis"
    assert result["pid"] == worker.proc.pid
    assert "contextforge.ping" in log
