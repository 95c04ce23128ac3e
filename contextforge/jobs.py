"""Queueing background jobs so that they only run once the data they need is committed."""

from __future__ import annotations

from functools import partial
from typing import Any

from celery import Task
from django.db import transaction

__all__ = ["enqueue_on_commit"]


def enqueue_on_commit(task: Task, *args: Any, using: str | None = None, **kwargs: Any) -> None:
    """Queue ``task`` with the given arguments after the surrounding transaction commits.

    Outside a transaction the job is queued at once. If the transaction rolls back the
    job is never queued, so a worker never sees a half-written state.
    """
    transaction.on_commit(partial(task.apply_async, args=args, kwargs=kwargs), using=using)
