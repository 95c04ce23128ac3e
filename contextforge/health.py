"""Liveness (/health), readiness (/ready) and build information (/version)."""

from __future__ import annotations

import asyncio
import platform
import subprocess
import uuid
from functools import cache

import django
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache as django_cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse

import contextforge
from apps.protocols.registry import registry

CHECK_TIMEOUT = 3.0
_migrated = False


async def health(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches nothing else."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    global _migrated
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        if not _migrated:
            executor = MigrationExecutor(connection)
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
            if pending:
                return f"{len(pending)} migrations not applied (run: python manage.py migrate)"
            _migrated = True
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}: {exc}".strip()
    finally:
        connection.close()
    return None


def _check_cache() -> str | None:
    key = f"ready:{uuid.uuid4().hex}"
    try:
        django_cache.set(key, "1", 5)
        ok = django_cache.get(key) == "1"
        django_cache.delete(key)
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}: {exc}"
    return None if ok else "value written was not read back"


async def _check_channel_layer() -> str | None:
    layer = get_channel_layer()
    if layer is None:
        return "no channel layer configured"
    try:
        channel = await layer.new_channel("ready.")
        await layer.send(channel, {"type": "ready.ping"})
        message = await layer.receive(channel)
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}: {exc}"
    return None if message.get("type") == "ready.ping" else "message sent was not received"


async def _bounded(name: str, check) -> tuple[str, str | None]:
    """Run one check (a coroutine, or a blocking function run in a thread) within CHECK_TIMEOUT.

    Blocking checks run in the default executor, not through sync_to_async: a check
    stuck on a dead database must not hold the response beyond the bound.
    """
    if not asyncio.iscoroutine(check):
        check = asyncio.get_running_loop().run_in_executor(None, check)
    try:
        return name, await asyncio.wait_for(check, CHECK_TIMEOUT)
    except TimeoutError:
        return name, f"unreachable: no answer within {CHECK_TIMEOUT:.0f}s"


async def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: database reachable and migrated, cache and channel layer reachable, modules ready."""
    results = await asyncio.gather(
        _bounded("database", _check_database),
        _bounded("cache", _check_cache),
        _bounded("channel_layer", _check_channel_layer()),
    )
    checks = {name: {"ok": error is None, **({"error": error} if error else {})} for name, error in results}
    for module_id, report in registry.report().items():
        checks[f"module:{module_id}"] = {
            "ok": report["ready"],
            "state": report["state"],
            **({"error": report["error"]} if report["error"] else {}),
        }
    failing = [name for name, check in checks.items() if not check["ok"]]
    body = {"status": "ready" if not failing else "not ready", "failing": failing, "checks": checks}
    return JsonResponse(body, status=200 if not failing else 503)


@cache
def git_revision() -> str | None:
    """The deployed git revision: GIT_REVISION env, else the checkout's HEAD, else None."""
    import os

    if revision := os.environ.get("GIT_REVISION"):
        return revision
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=2,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


async def version(request: HttpRequest) -> JsonResponse:
    """What is running: versions, served protocol revisions, back ends."""
    mcp_revisions: list[str] = []
    a2a_versions: list[str] = []
    for module in registry.by_family("mcp"):
        mcp_revisions += module.descriptor.capabilities.get("revisions", [])
    for module in registry.by_family("a2a"):
        a2a_versions += module.descriptor.capabilities.get("versions", [])
    return JsonResponse(
        {
            "app": "contextforge",
            "version": contextforge.__version__,
            "git_revision": await sync_to_async(git_revision, thread_sensitive=False)(),
            "python": platform.python_version(),
            "django": django.get_version(),
            "mcp_revisions": mcp_revisions,
            "a2a_versions": a2a_versions,
            "database": connection.vendor,
            "redis": settings.USING_REDIS,
            "environment": settings.DJANGO_ENV,
            "modules": {m.descriptor.id: m.descriptor.version for m in registry.all()},
        }
    )
