"""The Celery application, configured from Django settings (CELERY_* names)."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contextforge.settings")

app = Celery("contextforge")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["contextforge"])


@worker_process_init.connect
def _install_runtimes(**_: object) -> None:
    """Worker processes run no ASGI lifespan: register the upstream runtimes their tasks call."""
    from apps.protocols.mcp.upstream import install

    install()
