"""Drive one path with wrk (bench/wrk/mcp.lua) and return its summary as a dict.

wrk is the load generator: a C event loop keeps the client cheap, so the figures describe the
server. It is installed from Debian packages when missing (``ensure_wrk``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Load", "ensure_wrk", "run_wrk"]

LUA = Path(__file__).resolve().parent / "wrk" / "mcp.lua"


@dataclass(frozen=True)
class Load:
    """One request shape: the URL, the JSON body and the extra headers, sent over and over."""

    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def ensure_wrk() -> str:
    """Path of the wrk binary; installs the Debian package when it is missing (needs root)."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "-n", "apt-get"]
    subprocess.run([*apt, "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*apt, "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed and could not be installed with apt-get")
    return found


def run_wrk(load: Load, *, connections: int, duration: float, timeout: float = 10.0) -> dict[str, Any]:
    """Run wrk for ``duration`` seconds with ``connections`` keep-alive connections; return its summary.

    The summary holds requests, duration_us, rps, latency_us percentiles, and ``errors`` (non-2xx
    answers + JSON-RPC errors + tool errors + socket errors).
    """
    threads = max(1, min(connections, os.cpu_count() or 1))
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        body, headers, out = Path(tmp, "body.json"), Path(tmp, "headers.txt"), Path(tmp, "out.json")
        body.write_bytes(load.body)
        headers.write_text("".join(f"{k}: {v}\n" for k, v in load.headers.items()))
        env = {**os.environ, "BENCH_BODY": str(body), "BENCH_HEADERS": str(headers), "BENCH_OUT": str(out)}
        env["BENCH_TOOL_CALL"] = "1" if b'"tools/call"' in load.body else "0"
        argv = [
            ensure_wrk(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            f"--timeout={max(1, round(timeout))}s",
            "-s",
            str(LUA),
            load.url,
        ]
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=duration + timeout + 30)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
        summary = json.loads(out.read_text())
    socket_errors = sum(summary["socket_errors"].values())
    summary["errors"] = summary["bad_status"] + summary["rpc_errors"] + socket_errors
    if summary["requests"] == 0:  # not one answer within the run: a failure, not "0 rps, no errors"
        summary["errors"] += 1
        summary["first_error"] = summary["first_error"] or f"no answer completed within {duration:g} s"
    seconds = summary["duration_us"] / 1e6
    summary["rps"] = summary["requests"] / seconds if seconds else 0.0
    summary["connections"] = connections
    return summary
