"""Summaries, the four targets of the performance issue, the markdown table, the JSON file and the chart."""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

__all__ = ["summarize", "targets", "to_markdown", "write_chart", "write_report"]

RSS_LIMIT_MB = 250.0


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One level of one path over its rounds: RPS over the total time, the median of each percentile."""
    requests = sum(r["requests"] for r in runs)
    seconds = sum(r["duration_us"] for r in runs) / 1e6
    pct = {p: statistics.median(r["latency_us"][p] for r in runs) / 1000 for p in ("p50", "p95", "p99")}
    first_error = next((r["first_error"] for r in runs if r.get("first_error")), "")
    return {
        "requests": requests,
        "rps": requests / seconds if seconds else 0.0,
        "p50_ms": pct["p50"],
        "p95_ms": pct["p95"],
        "p99_ms": pct["p99"],
        "errors": sum(r["errors"] for r in runs),
        "first_error": first_error,
    }


def _rss_key(path: dict[str, Any]) -> str:
    return f"upstream-{path['upstream']}" if path["via"] == "direct" else path["via"]


def _get(results: dict[str, Any], name: str, level: int, field: str) -> float | None:
    path = results["paths"].get(name)
    if not path or str(level) not in path.get("summary", {}):
        return None
    return path["summary"][str(level)][field]


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The four targets (ratios, same machine, same run); a target whose paths did not run is ``None``."""

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or not b else a / b

    gw_p50 = _get(results, "gateway-stateless-fast", 1, "p50_ms")
    direct_p50 = _get(results, "direct-fast", 1, "p50_ms")
    added = None if gw_p50 is None or direct_p50 is None else gw_p50 - direct_p50
    sdk = ratio(_get(results, "gateway-stateless-sdk", 10, "rps"), _get(results, "direct-sdk", 10, "rps"))
    gw_rps = _get(results, "gateway-stateless-fast", 10, "rps")
    vs_default = ratio(gw_rps, _get(results, "peer-default-fast", 10, "rps"))
    vs_stateful = ratio(gw_rps, _get(results, "peer-stateful-fast", 10, "rps"))
    gw_p99 = _get(results, "gateway-stateless-fast", 10, "p99_ms")
    peer_p99 = [_get(results, n, 10, "p99_ms") for n in ("peer-default-fast", "peer-stateful-fast")]
    p99_lower = None if gw_p99 is None or None in peer_p99 else all(gw_p99 < p for p in peer_p99 if p is not None)
    # what a client waits for to see all 1,000 tools: the full walk when the gateway paginates
    walk = results["paths"].get("gateway-list1000", {}).get("walk")
    list_p50 = walk["p50_ms"] if walk else _get(results, "gateway-list1000", 1, "p50_ms")
    gw_rss = max(
        (v["max_mb"] for k, v in results.get("rss", {}).items() if k.startswith("gateway")),
        default=None,
    )

    def row(name: str, value: Any, goal: str, met: bool | None, fmt: str = "{:.2f}") -> dict[str, Any]:
        shown = "not measured" if value is None else (fmt.format(value) if isinstance(value, float) else str(value))
        return {"target": name, "measured": shown, "goal": goal, "met": None if value is None else met, "value": value}

    return [
        row(
            "1. added latency, p50 gateway - direct, fast upstream, c=1 (ms)",
            added,
            "<= 2 ms",
            added is not None and added <= 2,
        ),
        row("2. gateway / direct throughput, SDK upstream, c=10", sdk, ">= 0.8x", sdk is not None and sdk >= 0.8),
        row(
            "3a. gateway / peer default throughput, fast upstream, c=10", vs_default, ">= 50x", (vs_default or 0) >= 50
        ),
        row(
            "3b. gateway / peer stateful throughput, fast upstream, c=10", vs_stateful, ">= 5x", (vs_stateful or 0) >= 5
        ),
        row("3c. gateway p99 lower than both peer configurations, c=10", p99_lower, "yes", bool(p99_lower)),
        row("4a. errors, every wired path", results["errors_total"], "0", results["errors_total"] == 0, "{:d}"),
        row(
            "4b. tools/list of 1,000 tools (all pages), gateway p50, c=1 (ms)",
            list_p50,
            "<= 25 ms",
            (list_p50 or 1e9) <= 25,
        ),
        row(
            "4c. RSS per gateway worker, max (MB)", gw_rss, f"<= {RSS_LIMIT_MB:.0f} MB", (gw_rss or 1e9) <= RSS_LIMIT_MB
        ),
    ]


def to_markdown(results: dict[str, Any]) -> str:
    """The table of every path and level, the paths not wired, and the targets."""
    cfg = results["config"]
    lines = [
        f"Benchmark {results['started'][:19]}Z: {cfg['server']}, {cfg['workers']} workers, {cfg['gateway_shape']}, "
        f"{cfg['duration_s']:g} s x {cfg['rounds']} rounds per level, {results['machine']['cpus']} CPUs",
        "",
        "| path | c | RPS | p50 ms | p95 ms | p99 ms | errors | RSS MB (max process) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, path in results["paths"].items():
        rss = results.get("rss", {}).get(_rss_key(path), {}).get("max_mb")
        for level, s in path.get("summary", {}).items():
            lines.append(
                f"| {name} | {level} | {s['rps']:.1f} | {s['p50_ms']:.2f} | {s['p95_ms']:.2f} | {s['p99_ms']:.2f} "
                f"| {s['errors']} | {'' if rss is None else f'{rss:.0f}'} |"
            )
    walks = [(n, p["walk"]) for n, p in results["paths"].items() if p.get("walk")]
    if walks:
        lines += ["", "| tools/list, every page | tools | pages | p50 ms | p95 ms |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {n} | {w['tools']} | {w['pages']} | {w['p50_ms']:.2f} | {w['p95_ms']:.2f} |" for n, w in walks]
    skipped = [(n, p["reason"]) for n, p in results["paths"].items() if not p["wired"]]
    if skipped:
        lines += ["", "Not wired:", *[f"- {n}: {reason}" for n, reason in skipped]]
    lines += ["", "| target | measured | goal | met |", "|---|---:|---:|:---:|"]
    for t in results["targets"]:
        met = "-" if t["met"] is None else ("yes" if t["met"] else "**no**")
        lines.append(f"| {t['target']} | {t['measured']} | {t['goal']} | {met} |")
    return "\n".join(lines) + "\n"


def write_chart(results: dict[str, Any], path: Path) -> Path | None:
    """A PNG of p50/p95/p99 per path, one panel per concurrency level (log scale); None if nothing ran."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = sorted({int(level) for p in results["paths"].values() for level in p.get("summary", {})})
    if not levels:
        return None
    fig, axes = plt.subplots(
        1, len(levels), figsize=(6 * len(levels), 1.2 + 0.45 * len(results["paths"])), squeeze=False
    )
    for ax, level in zip(axes[0], levels, strict=True):
        names = [n for n, p in results["paths"].items() if str(level) in p.get("summary", {})]
        for offset, (pct, color) in enumerate((("p50_ms", "#4c72b0"), ("p95_ms", "#dd8452"), ("p99_ms", "#c44e52"))):
            values = [results["paths"][n]["summary"][str(level)][pct] for n in names]
            ax.barh(
                [i + (offset - 1) * 0.27 for i in range(len(names))], values, height=0.27, color=color, label=pct[:3]
            )
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel("latency (ms, log scale)")
        ax.set_title(f"concurrency {level}")
        ax.grid(axis="x", which="both", alpha=0.3)
    axes[0][0].legend(loc="best", fontsize=8)
    fig.suptitle(f"latency percentiles per path ({results['config']['server']}, {results['started'][:10]})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(results: dict[str, Any], out: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Add summaries and targets to ``results``; write <date>.json, .md, .png under ``out``; print the table."""
    for path in results["paths"].values():
        path["summary"] = {level: summarize(runs) for level, runs in path["runs"].items()}
    results["errors_total"] = sum(s["errors"] for p in results["paths"].values() for s in p["summary"].values())
    results["targets"] = targets(results)
    out.mkdir(parents=True, exist_ok=True)
    stem = dt.datetime.fromisoformat(results["started"]).strftime("%Y-%m-%d")
    if results["config"].get("quick"):
        stem += "-quick"
    table = to_markdown(results)
    chart = write_chart(results, out / f"{stem}.png")
    results["files"] = {
        "json": str(out / f"{stem}.json"),
        "markdown": str(out / f"{stem}.md"),
        "chart": str(chart) if chart else None,
    }
    (out / f"{stem}.md").write_text(table)
    (out / f"{stem}.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    log("")
    log(table)
    return results
