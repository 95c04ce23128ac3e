"""Server processes for the benchmark: tests/servers.py's ServerProcess, stopped as a whole group.

``make serve`` and multi-worker servers fork children; SIGTERM goes to the process group so
every worker drains, not only the parent.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from typing import Any

import psutil

from tests.servers import ServerProcess, free_port

__all__ = ["GroupServer", "free_port", "rss_of"]


class GroupServer(ServerProcess):
    """A ServerProcess whose stop() signals the whole process group, then reaps it."""

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM the group, wait, SIGKILL whatever lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(5)


WRAPPERS = {"make", "sh", "bash", "dash"}


def rss_of(pid: int) -> dict[str, Any]:
    """Resident memory (MiB) of a server's process tree (launch wrappers like make left out).

    A uvicorn/granian master plus N workers shows N+1 entries; ``max_mb`` is the largest process
    (a worker, in practice) and ``total_mb`` the sum.
    """
    root = psutil.Process(pid)
    sizes: dict[str, float] = {}
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            if proc.name() not in WRAPPERS:
                sizes[f"{proc.pid} {proc.name()}"] = round(proc.memory_info().rss / (1 << 20), 1)
    return {
        "per_process_mb": sizes,
        "max_mb": max(sizes.values(), default=0.0),
        "total_mb": round(sum(sizes.values()), 1),
    }
