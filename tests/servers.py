"""Real servers for tests: free ports, subprocesses that are waited for and always stopped.

Tests that need a server start a real one on 127.0.0.1 through these helpers, so every
suite shares one way of starting, probing and stopping processes (and no zombies stay).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

__all__ = ["ROOT", "ServerProcess", "free_port", "gateway_env", "start_gateway", "test_database_url"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """A DATABASE_URL for the database this test run uses, for child processes."""
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    user = config.get("USER") or ""
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{config.get('HOST') or '127.0.0.1'}:{config.get('PORT') or 5432}/{config['NAME']}"


def gateway_env(**overrides: str) -> dict[str, str]:
    """Environment for a gateway child process sharing this run's database and Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DATABASE_URL=test_database_url(),
        DJANGO_ENV="development",
        DJANGO_SETTINGS_MODULE="contextforge.settings",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


class ServerProcess:
    """A child process serving on a port; waits until it answers, stops it on exit."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        port: int,
        env: dict[str, str] | None = None,
        ready: Callable[[], bool] | None = None,
        cwd: Path = ROOT,
        startup_timeout: float = 30.0,
    ) -> None:
        self.argv = list(argv)
        self.port = port
        self.env = env
        self.cwd = cwd
        self.startup_timeout = startup_timeout
        self._ready = ready or self._http_health
        self.log = tempfile.NamedTemporaryFile(prefix="server-", suffix=".log", delete=False)  # noqa: SIM115
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    def _http_health(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self) -> ServerProcess:
        """Start the process and wait until it is ready (or fail with its output)."""
        self.proc = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited with {self.proc.returncode}:\n{self.output()}")
            if self._ready():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.argv[0]} not ready after {self.startup_timeout}s:\n{self.output()}")

    def output(self) -> str:
        """Everything the process printed so far."""
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def signal(self, signum: int) -> None:
        """Send a signal to the process."""
        assert self.proc is not None
        self.proc.send_signal(signum)

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit; return its status."""
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL the whole process group if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(5)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self.log.close()
        os.unlink(self.log.name)


def start_gateway(*, workers: int = 1, env: dict[str, str] | None = None, port: int | None = None) -> ServerProcess:
    """A gateway served by uvicorn on a free port (not yet started: use ``with``)."""
    port = port or free_port()
    argv = [
        str(VENV_BIN / "uvicorn"),
        "contextforge.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--lifespan",
        "on",
        "--workers",
        str(workers),
        "--timeout-graceful-shutdown",
        "10",
    ]
    return ServerProcess(argv, port=port, env=env or gateway_env())
