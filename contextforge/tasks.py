"""Platform-level Celery tasks."""

from __future__ import annotations

import os
import socket

from celery import shared_task


@shared_task(name="contextforge.ping")
def ping(payload: str = "ping") -> dict[str, object]:
    """Answer with the payload and the worker's identity, proving the broker round trip."""
    return {"payload": payload, "host": socket.gethostname(), "pid": os.getpid()}
