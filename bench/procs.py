"""Server processes for the benchmark: tests/servers.py's ServerProcess, stopped as a whole group.

``make serve`` and multi-worker servers fork children; SIGTERM goes to the process group so
every worker drains, not only the parent.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

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


def rss_of(pid: int) -> dict[str, float]:
    """Resident memory (MiB) of a server: per process of its tree that runs Python, the max and the total.

    A uvicorn/granian master plus N workers shows N+1 entries; ``max_mb`` is the largest worker.
    """
    root = psutil.Process(pid)
    sizes: dict[str, float] = {}
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            if (
                "python" in proc.name().lower()
                or "granian" in proc.name().lower()
                or (proc.cmdline()[:1] and ("python" in proc.cmdline()[0]))
            ):
                sizes[str(proc.pid)] = proc.memory_info().rss / (1 << 20)
    workers = {k: v for k, v in sizes.items() if k != str(pid)} or sizes
    return {
        "per_process_mb": {k: round(v, 1) for k, v in sizes.items()},
        "max_mb": round(max(workers.values(), default=0.0), 1),
        "total_mb": round(sum(sizes.values()), 1),
    }
