"""The benchmark run: start what the chosen paths need, drive each with wrk, write and print the report.

``python -m bench`` (``make bench``) runs every path; ``--quick`` shortens everything (used by the
smoke test); ``--paths`` picks paths by name or prefix (``direct``, ``gateway``, ``peer``...).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import messages as m
from bench.driver import Load, ensure_wrk, run_wrk
from bench.gateway import Gateway, GatewayServer, SetupUnavailable
from bench.peer import Peer, PeerServer
from bench.procs import GroupServer, free_port, rss_of
from bench.profile import busiest_worker, profile_path
from bench.report import write_report

__all__ = ["PATHS", "PathSpec", "main", "run"]

RESULTS = Path(__file__).resolve().parent / "results"
LIST_TOOLS = 1000


@dataclass(frozen=True)
class PathSpec:
    """One benchmarked path: what it drives, through which component, against which upstream."""

    name: str
    via: str  # direct | gateway | gateway-plugins | peer-default | peer-stateful
    upstream: str  # fast | sdk | fast1000
    kind: str  # stateless | session | rpc | peer-mcp
    method: str = "tools/call"
    concurrency: tuple[int, ...] | None = None  # None: the run's levels
    description: str = ""


PATHS: list[PathSpec] = [
    PathSpec("direct-fast", "direct", "fast", "stateless", description="fast upstream, direct, 2026-07-28"),
    PathSpec("direct-sdk", "direct", "sdk", "stateless", description="SDK upstream, direct, 2026-07-28"),
    PathSpec("gateway-stateless-fast", "gateway", "fast", "stateless", description="/servers/<id>/mcp, 2026-07-28"),
    PathSpec("gateway-session-fast", "gateway", "fast", "session", description="/servers/<id>/mcp, 2025-11-25 session"),
    PathSpec("gateway-rpc-fast", "gateway", "fast", "rpc", description="/rpc"),
    PathSpec("gateway-stateless-sdk", "gateway", "sdk", "stateless", description="stateless, SDK upstream"),
    PathSpec("peer-default-fast", "peer-default", "fast", "peer-mcp", description="ContextForge default, MCP"),
    PathSpec("peer-default-rpc-fast", "peer-default", "fast", "rpc", description="ContextForge default, /rpc"),
    PathSpec("peer-stateful-fast", "peer-stateful", "fast", "session", description="ContextForge stateful sessions"),
    PathSpec("direct-list1000", "direct", "fast1000", "stateless", "tools/list", (1, 10), "tools/list, 1,000 tools"),
    PathSpec("gateway-list1000", "gateway", "fast1000", "stateless", "tools/list", (1, 10), "tools/list, 1,000 tools"),
    PathSpec("peer-default-list1000", "peer-default", "fast1000", "peer-mcp", "tools/list", (1, 10), "1,000 tools"),
    # Plugin chain cost (--plugins PATHS): the same stateless path on a gateway with that chain on.
    PathSpec("gateway-plugins-stateless-fast", "gateway-plugins", "fast", "stateless", description="plugin chain on"),
]


@dataclass
class Outcome:
    """What happened to one path: the load it was driven with, or why it was not wired."""

    spec: PathSpec
    load: Load | None = None
    reason: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    runs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


def select(paths: str | None, *, plugins: bool, peer: bool) -> list[PathSpec]:
    """The paths chosen by ``--paths`` (names or prefixes, comma-separated)."""
    chosen = [p for p in PATHS if plugins or p.via != "gateway-plugins"]
    if not peer:
        chosen = [p for p in chosen if not p.via.startswith("peer")]
    if paths:
        wanted = [w.strip() for w in paths.split(",") if w.strip()]
        chosen = [p for p in chosen if any(p.name == w or p.name.startswith(w) for w in wanted)]
        if not chosen:
            raise SystemExit(f"--paths: no path matches {paths!r}; paths: {', '.join(p.name for p in PATHS)}")
    return chosen


def _upstream_argv(kind: str, port: int) -> list[str]:
    module = "bench.upstreams.sdk" if kind == "sdk" else "bench.upstreams.fast"
    argv = [sys.executable, "-m", module, "--port", str(port)]
    if kind == "fast1000":
        argv += ["--tools", str(LIST_TOOLS)]
    return argv


def _load(spec: PathSpec, target: GatewayServer | PeerServer | str) -> Load:
    """The request wrk repeats for ``spec`` against a running target."""
    if isinstance(target, str):  # direct to an upstream
        name = "echo" if spec.method == "tools/call" else None
        body = m.tools_call("echo") if name else m.tools_list()
        return Load(target, body, m.stateless_headers(spec.method, name))
    tool = target.tools.get("echo")
    if tool is None:
        raise SetupUnavailable(f"no tool for upstream 'echo' among {sorted(target.tools)[:5]}")
    if spec.kind == "rpc":
        tool = target.rpc_tools.get("echo", tool)
        body = m.tools_call(tool, None) if spec.method == "tools/call" else m.tools_list(None)
        return Load(target.rpc_url, body, target.auth)
    if spec.kind == "stateless":
        body = m.tools_call(tool) if spec.method == "tools/call" else m.tools_list()
        headers = m.stateless_headers(spec.method, tool if spec.method == "tools/call" else None)
        return Load(target.mcp_url, body, {**target.auth, **headers})
    # 2025-11-25: a session where the server keeps one (initialize once), else plain requests
    session = m.open_session(target.mcp_url, target.auth) if spec.kind == "session" else None
    body = m.tools_call(tool, m.SESSION_REVISION) if spec.method == "tools/call" else m.tools_list(m.SESSION_REVISION)
    return Load(target.mcp_url, body, {**target.auth, **m.session_headers(session)})


def _check(load: Load) -> dict[str, Any]:
    """One request answered with a JSON-RPC result, else the path is broken: fail before timing.

    Returns facts about the answer worth recording (how many tools a tools/list returned).
    """
    answer = httpx.post(
        load.url,
        content=load.body,
        headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **load.headers},
        timeout=60,
    )
    result = _result_of(answer)
    if result.get("isError"):
        raise RuntimeError(f"{load.url} answered a tool error: {answer.text[:300]}")
    if b'"tools/list"' not in load.body:
        return {}
    return {"listed_tools": len(result.get("tools", [])), "next_cursor": bool(result.get("nextCursor"))}


def walk_list(load: Load, repeats: int) -> dict[str, Any]:
    """Time ``repeats`` complete tools/list walks (following nextCursor), sequentially on one connection.

    wrk times single requests; a gateway that paginates needs several for the whole list, so the
    benchmark also measures what a client waits for to see every tool.
    """
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **load.headers}
    request = orjson.loads(load.body)
    times, pages, tools = [], 0, 0
    with httpx.Client(timeout=60, headers=headers) as client:
        for _ in range(repeats):
            params, pages, tools = dict(request.get("params") or {}), 0, 0
            started = time.perf_counter()
            while True:
                answer = client.post(load.url, content=orjson.dumps({**request, "params": params}))
                result = _result_of(answer)
                pages, tools = pages + 1, tools + len(result.get("tools", []))
                if not result.get("nextCursor") or pages >= 1000:
                    break
                params["cursor"] = result["nextCursor"]
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "repeats": repeats,
        "pages": pages,
        "tools": tools,
        "p50_ms": statistics.median(times),
        "p95_ms": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
    }


def _result_of(answer: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC result of an answer (JSON or one SSE event); RuntimeError otherwise."""
    text = answer.text.lstrip()
    if text.startswith(("event:", "data:")):
        text = next((line[5:] for line in text.splitlines() if line.startswith("data:")), "")
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        message = None
    if answer.status_code != 200 or not isinstance(message, dict) or "result" not in message:
        raise RuntimeError(f"{answer.request.url} answered {answer.status_code}: {answer.text[:300]}")
    return message["result"]


class Stack:
    """Everything the chosen paths need, started lazily, stopped together."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stack = contextlib.ExitStack()
        self.upstreams: dict[str, GroupServer] = {}
        self.components: dict[str, Any] = {}  # via -> Gateway | Peer | SetupUnavailable
        self.registered: dict[tuple[str, str], GatewayServer | PeerServer | Exception] = {}

    def upstream_url(self, kind: str) -> str:
        """Start upstream ``kind`` once; its MCP URL."""
        if kind not in self.upstreams:
            port = free_port()
            server = GroupServer(_upstream_argv(kind, port), port=port, env={**os.environ, "PYTHONUNBUFFERED": "1"})
            self.upstreams[kind] = self.stack.enter_context(server)
        return f"{self.upstreams[kind].url}/mcp"

    def component(self, via: str) -> Gateway | Peer:
        """Start the gateway (or a peer configuration) once."""
        if via not in self.components:
            try:
                if via.startswith("gateway"):
                    plugins = self.args.plugins if via == "gateway-plugins" else ""
                    made: Gateway | Peer = Gateway(server=self.args.server, workers=self.args.workers, plugins=plugins)
                else:
                    made = Peer(via.removeprefix("peer-"), workers=self.args.workers)
                self.components[via] = self.stack.enter_context(made)
            except (RuntimeError, OSError) as exc:
                self.components[via] = SetupUnavailable(f"{via} did not start: {exc}")
        found = self.components[via]
        if isinstance(found, SetupUnavailable):
            raise found
        return found

    def target(self, spec: PathSpec) -> GatewayServer | PeerServer | str:
        """What ``spec`` is driven against, registering its upstream on first use."""
        url = self.upstream_url(spec.upstream)
        if spec.via == "direct":
            return url
        key = (spec.via, spec.upstream)
        if key not in self.registered:
            try:
                self.registered[key] = self.component(spec.via).register(f"bench-{spec.upstream}", url)
            except (SetupUnavailable, RuntimeError, httpx.HTTPError) as exc:
                self.registered[key] = exc  # reported once per path, not retried
        found = self.registered[key]
        if isinstance(found, Exception):
            raise SetupUnavailable(str(found))
        return found

    def rss(self) -> dict[str, Any]:
        """Resident memory of every running component, per process."""
        out: dict[str, Any] = {}
        for name, server in self.upstreams.items():
            if server.proc:
                out[f"upstream-{name}"] = rss_of(server.proc.pid)
        for via, component in self.components.items():
            if not isinstance(component, SetupUnavailable) and component.pid:
                out[via] = rss_of(component.pid)
        return out

    def close(self) -> None:
        """Stop everything."""
        self.stack.close()


def _rounds(outcomes: list[Outcome], levels: tuple[int, ...], rounds: int) -> Iterator[tuple[Outcome, int]]:
    """A/B alternation: every round visits every path at each level, reversing the order on odd rounds."""
    for r in range(rounds):
        for level in levels:
            ordered = outcomes if r % 2 == 0 else list(reversed(outcomes))
            for outcome in ordered:
                if outcome.load is not None and level in (outcome.spec.concurrency or levels):
                    yield outcome, level


def run(args: argparse.Namespace, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the benchmark described by ``args``; return the results (also written to disk)."""
    ensure_wrk()
    specs = select(args.paths, plugins=bool(args.plugins), peer=not args.no_peer)
    levels = tuple(args.concurrency)
    stack = Stack(args)
    started = dt.datetime.now(dt.UTC)
    outcomes = [Outcome(spec) for spec in specs]
    try:
        for outcome in outcomes:
            try:
                outcome.load = _load(outcome.spec, stack.target(outcome.spec))
                outcome.facts = _check(outcome.load)
                log(f"wired   {outcome.spec.name}: {outcome.load.url} {outcome.facts or ''}")
            except (SetupUnavailable, RuntimeError, httpx.HTTPError) as exc:
                outcome.load, outcome.reason = None, str(exc)
                log(f"skipped {outcome.spec.name}: {exc}")
        for outcome, level in _rounds(outcomes, levels, args.rounds):
            assert outcome.load is not None
            summary = run_wrk(outcome.load, connections=level, duration=args.duration)
            outcome.runs.setdefault(level, []).append(summary)
            lat = summary["latency_us"]
            log(
                f"{outcome.spec.name:32} c={level:<3} {summary['rps']:9.1f} rps  p50 {lat['p50'] / 1000:7.2f} ms  "
                f"p99 {lat['p99'] / 1000:7.2f} ms  errors {summary['errors']}"
            )
        for outcome in outcomes:
            if outcome.load is not None and outcome.spec.method == "tools/list":
                outcome.facts["walk"] = walk = walk_list(outcome.load, 5 if args.quick else 20)
                log(
                    f"{outcome.spec.name:32} full walk: {walk['tools']} tools in {walk['pages']} pages, "
                    f"p50 {walk['p50_ms']:.2f} ms"
                )
        rss = stack.rss()
        profile = _profile(args, outcomes, stack, started, log)
    finally:
        stack.close()
    results = {
        "started": started.isoformat(),
        "finished": dt.datetime.now(dt.UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "config": {
            "duration_s": args.duration,
            "rounds": args.rounds,
            "concurrency": list(levels),
            "workers": args.workers,
            "server": args.server,
            "gateway_shape": "postgresql+redis"
            if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")
            else "embedded",
            "quick": args.quick,
        },
        "paths": {
            o.spec.name: {
                "description": o.spec.description,
                "via": o.spec.via,
                "upstream": o.spec.upstream,
                "method": o.spec.method,
                "wired": o.load is not None,
                "reason": o.reason,
                "url": o.load.url if o.load else None,
                **o.facts,
                "runs": {str(level): runs for level, runs in o.runs.items()},
            }
            for o in outcomes
        },
        "rss": rss,
        "profile": profile,
    }
    return write_report(results, args.out, log=log)


def _profile(
    args: argparse.Namespace, outcomes: list[Outcome], stack: Stack, started: dt.datetime, log: Callable[[str], None]
) -> dict[str, Any] | None:
    """py-spy on the busiest gateway worker while ``args.profile``'s path is driven (see bench/profile.py)."""
    if not args.profile:
        return None
    outcome = next((o for o in outcomes if o.spec.name == args.profile and o.load is not None), None)
    component = stack.components.get(outcome.spec.via) if outcome else None
    if outcome is None or not isinstance(component, Gateway) or not component.pid:
        log(f"profile: {args.profile} is not a wired gateway path; nothing profiled")
        return None
    stem = started.strftime("%Y-%m-%d") + ("-quick" if args.quick else "")
    args.out.mkdir(parents=True, exist_ok=True)
    found = profile_path(outcome.load, busiest_worker(component.pid), args.out / f"{stem}-profile")
    log(f"profile of {args.profile} ({found['rps'] or 0:.0f} rps while sampled): {args.out / found['folded']}")
    log("\n".join(found["summary"].splitlines()[:30]))
    return {"path": args.profile, **found}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of ``python -m bench``."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="A/B rounds; each path runs once per round (default 2)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50], help="connection counts")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "2")), help="gateway/peer workers")
    parser.add_argument(
        "--server", choices=["uvicorn", "granian", "daphne"], default=os.environ.get("SERVER", "uvicorn")
    )
    parser.add_argument("--paths", help="comma-separated path names or prefixes (default: all)")
    parser.add_argument("--no-peer", action="store_true", help="skip the ContextForge peer")
    parser.add_argument(
        "--plugins",
        default="",
        metavar="PATHS",
        help="also measure a gateway whose plugin chain is these dotted paths (comma-separated, as PLUGINS)",
    )
    parser.add_argument(
        "--profile",
        default="gateway-stateless-fast",
        metavar="PATH",
        help="after the runs, sample a gateway worker with py-spy while PATH is driven ('' to skip; "
        "default gateway-stateless-fast, skipped with --quick)",
    )
    parser.add_argument("--quick", action="store_true", help="2 s runs, one round, concurrency 1 and 10")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory (default bench/results)")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rounds = 2.0, 1
        if args.profile == "gateway-stateless-fast":
            args.profile = ""
        if args.concurrency == [1, 10, 50]:
            args.concurrency = [1, 10]
    if args.duration < 1 or args.rounds < 1 or min(args.concurrency) < 1:
        parser.error("--duration, --rounds and --concurrency must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point: run, print the table; non-zero exit when a wired path saw errors."""
    results = run(parse_args(argv))
    return 1 if results["errors_total"] else 0
