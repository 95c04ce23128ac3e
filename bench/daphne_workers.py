"""Run N daphne processes on one listening socket (daphne has no --workers of its own).

Used by ``make serve SERVER=daphne`` so the three candidate ASGI servers can be measured in the
same shape. The socket is bound here and inherited by every daphne through ``--fd``; the kernel
spreads accepted connections across them. SIGTERM/SIGINT are passed on to every child.

Note: daphne does not run the ASGI lifespan protocol, so start-up/shutdown hooks of the
application do not run under it; the benchmark records this next to its figures.
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
from pathlib import Path

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Bind host:port, start ``--workers`` daphne processes on it, wait for them all."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("application")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4444)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers: expected at least 1")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(1024)
    sock.set_inheritable(True)
    daphne = str(Path(sys.executable).parent / "daphne")
    argv_child = [daphne, "--fd", str(sock.fileno()), "-v", "0", args.application]
    children = [subprocess.Popen(argv_child, pass_fds=(sock.fileno(),)) for _ in range(args.workers)]

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    sock.close()
    return max(codes, default=0)


if __name__ == "__main__":
    sys.exit(main())
