"""Smoke test of the benchmark harness end to end: quick run against the fast upstream directly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import ROOT

pytestmark = pytest.mark.slow


def test_quick_run_writes_results_table_and_chart(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "bench", "--quick", "--paths", "direct-fast", "--concurrency", "1", "2"]
    done = subprocess.run([*argv, "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr

    [results_file] = tmp_path.glob("*-quick.json")
    results = json.loads(results_file.read_text())
    path = results["paths"]["direct-fast"]
    assert path["wired"] is True
    assert set(path["summary"]) == {"1", "2"}
    for level in path["summary"].values():
        assert level["requests"] > 0
        assert level["errors"] == 0
        assert 0 < level["p50_ms"] <= level["p95_ms"] <= level["p99_ms"]
    assert results["rss"]["upstream-fast"]["max_mb"] > 0
    assert [t["met"] for t in results["targets"] if t["target"].startswith("4a")] == [True]

    table = results_file.with_suffix(".md").read_text()
    assert "| direct-fast | 1 |" in table
    assert table in done.stdout
    assert results_file.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_wrk_driver_counts_jsonrpc_errors() -> None:
    """Answers that are JSON-RPC errors count as errors, with the first one kept for the report."""
    from bench import driver, messages
    from bench.procs import GroupServer, free_port

    port = free_port()
    upstream = GroupServer([sys.executable, "-m", "bench.upstreams.fast", "--port", str(port)], port=port)
    with upstream:
        load = driver.Load(f"{upstream.url}/mcp", messages.tools_call("missing"))
        summary = driver.run_wrk(load, connections=1, duration=1)
    assert summary["requests"] > 0
    assert summary["errors"] == summary["requests"]
    assert "unknown tool: missing" in summary["first_error"]


def test_profile_samples_a_server_under_load(tmp_path: Path) -> None:
    """bench.profile drives a path while py-spy samples the server; the summary names its code."""
    from bench import driver, messages
    from bench.procs import GroupServer, free_port
    from bench.profile import busiest_worker, profile_path

    port = free_port()
    upstream = GroupServer([sys.executable, "-m", "bench.upstreams.fast", "--port", str(port)], port=port)
    with upstream:
        load = driver.Load(f"{upstream.url}/mcp", messages.tools_call("echo"))
        found = profile_path(load, busiest_worker(upstream.proc.pid), tmp_path / "run-profile", seconds=2)
    assert found["rps"] > 0
    folded = (tmp_path / "run-profile.folded").read_text()
    assert sum(int(line.rpartition(" ")[2]) for line in folded.splitlines() if line.strip()) > 0
    summary = (tmp_path / "run-profile.txt").read_text()
    assert "fast.py" in summary
    assert "## own time by package" in summary


def test_profile_summary_counts_own_and_inclusive_samples() -> None:
    from bench.profile import summarize

    folded = (
        "main (app.py:1);handle (apps/catalog/invoke.py:10);send (site-packages/httpx/x.py:5) 3\n"
        "main (app.py:1);handle (apps/catalog/invoke.py:10) 1\n"
    )
    text = summarize(folded)
    assert text.startswith("4 samples")
    assert " 75.0%  send (site-packages/httpx/x.py:5)" in text
    assert "100.0%  handle (apps/catalog/invoke.py:10)" in text  # inclusive: both stacks pass through it
    assert " 75.0%  httpx" in text and " 25.0%  apps/catalog" in text
