"""Where a gateway worker's time goes: py-spy samples one worker while wrk drives a path.

``python -m bench --profile gateway-stateless-fast`` (after the timed rounds) loads that path at
concurrency 10, samples the busiest gateway worker with py-spy, and writes the collapsed stacks
(``<date>-profile.folded``: open it in speedscope.app or feed it to flamegraph.pl) and a summary
(``<date>-profile.txt``: the frames with the most samples, on their own and with their callees,
plus the share of the samples spent in each package).
"""

from __future__ import annotations

import collections
import contextlib
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import psutil

from bench.driver import Load, run_wrk

__all__ = ["busiest_worker", "profile_path", "summarize"]

#: Frames look like ``function (path/to/module.py:123)``; the package is the path's first part.
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^:]*):(?P<line>\d+)\)$")
_SITE = re.compile(r"(?:site-packages|lib/python3\.\d+)/")


def busiest_worker(pid: int) -> int:
    """The process of a server's tree (launch wrappers excluded) that has used the most CPU."""
    root = psutil.Process(pid)
    best, most = pid, -1.0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            if proc.name() in {"make", "sh", "bash", "dash"}:
                continue
            times = proc.cpu_times()
            if times.user + times.system > most:
                best, most = proc.pid, times.user + times.system
    return best


def _package(frame: str) -> str:
    match = _FRAME.match(frame)
    path = match["file"] if match else frame
    tail = _SITE.split(path)[-1]
    if tail.startswith(("apps/", "contextforge/")):
        return "/".join(tail.split("/")[:3]) if tail.startswith("apps/protocols") else "/".join(tail.split("/")[:2])
    return tail.split("/")[0].removesuffix(".py") or "?"


def summarize(folded: str, top: int = 40) -> str:
    """A plain-text report of collapsed stacks: top frames by own and by inclusive samples, and per package."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    total = 0
    for line in folded.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        own[frames[-1]] += n
        packages[_package(frames[-1])] += n
        for frame in set(frames):
            inclusive[frame] += n
    if not total:
        return "no samples\n"

    def block(title: str, counter: collections.Counter[str], limit: int) -> list[str]:
        return [title, *(f"{100 * n / total:6.1f}%  {name}" for name, n in counter.most_common(limit)), ""]

    lines = [f"{total} samples", ""]
    lines += block("## own time by package (where the CPU is spent)", packages, 25)
    lines += block("## own time by frame", own, top)
    lines += block("## inclusive time by frame (with callees)", inclusive, top * 2)
    return "\n".join(lines)


def profile_path(load: Load, pid: int, out_base: Path, *, seconds: float = 10.0, rate: int = 250) -> dict[str, Any]:
    """Drive ``load`` at concurrency 10 while py-spy samples ``pid``; write .folded and .txt next to out_base."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    folded = out_base.with_suffix(".folded")
    result: dict[str, Any] = {}
    driver = threading.Thread(
        target=lambda: result.update(run_wrk(load, connections=10, duration=seconds + 2)), daemon=True
    )
    driver.start()
    try:
        argv = [spy, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", str(rate), "--nonblocking"]
        subprocess.run(
            [*argv, "-f", "raw", "-o", str(folded)],
            check=True,
            capture_output=True,
            timeout=seconds + 60,
        )
    finally:
        driver.join(seconds + 60)
    summary = summarize(folded.read_text())
    out_base.with_suffix(".txt").write_text(summary)
    return {"pid": pid, "seconds": seconds, "rps": result.get("rps"), "folded": folded.name, "summary": summary}
