"""The report's arithmetic: summaries over rounds and the four targets, on hand-made wrk summaries."""

from __future__ import annotations

from pathlib import Path

from bench.report import summarize, write_report


def _run(requests: int, seconds: float, p50: int, p99: int, errors: int = 0) -> dict:
    return {
        "requests": requests,
        "duration_us": int(seconds * 1e6),
        "errors": errors,
        "first_error": "boom" if errors else "",
        "latency_us": {"p50": p50, "p95": (p50 + p99) // 2, "p99": p99},
    }


def _path(via: str, upstream: str, runs: dict[str, list[dict]]) -> dict:
    return {"via": via, "upstream": upstream, "wired": True, "reason": "", "runs": runs}


def test_summary_takes_rps_over_total_time_and_median_percentiles() -> None:
    summary = summarize([_run(1000, 1.0, 100, 900), _run(3000, 1.0, 300, 1100), _run(2000, 2.0, 200, 1000)])
    assert summary["requests"] == 6000
    assert summary["rps"] == 1500.0
    assert summary["p50_ms"] == 0.2
    assert summary["p99_ms"] == 1.0
    assert summary["errors"] == 0


def test_targets_from_a_complete_run(tmp_path: Path) -> None:
    paths = {
        "direct-fast": _path("direct", "fast", {"1": [_run(10000, 1, 100, 300)]}),
        "direct-sdk": _path("direct", "sdk", {"10": [_run(1000, 1, 5000, 9000)]}),
        "gateway-stateless-fast": _path(
            "gateway", "fast", {"1": [_run(1000, 1, 1600, 3000)], "10": [_run(5000, 1, 2000, 8000)]}
        ),
        "gateway-stateless-sdk": _path("gateway", "sdk", {"10": [_run(700, 1, 9000, 20000)]}),
        "peer-default-fast": _path("peer-default", "fast", {"10": [_run(50, 1, 90000, 200000)]}),
        "peer-stateful-fast": _path("peer-stateful", "fast", {"10": [_run(1000, 1, 10000, 7000, errors=2)]}),
        "gateway-list1000": _path("gateway", "fast1000", {"1": [_run(50, 1, 20000, 30000)]}),
    }
    results = {
        "started": "2026-11-22T01:00:00+00:00",
        "machine": {"cpus": 2},
        "config": {"server": "uvicorn", "workers": 2, "gateway_shape": "embedded", "duration_s": 1, "rounds": 1},
        "paths": paths,
        "rss": {"gateway": {"max_mb": 120.0}, "upstream-fast": {"max_mb": 20.0}},
    }
    write_report(results, tmp_path, log=lambda _line: None)
    met = {t["target"].split(".")[0]: (t["value"], t["met"]) for t in results["targets"]}
    assert met["1"] == (1.5, True)  # 1.6 ms - 0.1 ms
    assert met["2"] == (0.7, False)
    assert met["3a"] == (100.0, True)
    assert met["3b"] == (5.0, True)
    assert met["3c"] == (False, False)  # 8 ms is not below the stateful peer's 7 ms
    assert met["4a"] == (2, False)
    assert met["4b"] == (20.0, True)
    assert met["4c"] == (120.0, True)
    table = (tmp_path / "2026-11-22.md").read_text()
    assert "| gateway-stateless-fast | 10 | 5000.0 | 2.00 | 5.00 | 8.00 | 0 | 120 |" in table
    assert (tmp_path / "2026-11-22.png").exists()
