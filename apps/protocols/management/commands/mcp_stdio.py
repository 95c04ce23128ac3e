"""``manage.py mcp_stdio --server <id> --token T``: serve one virtual server over stdin/stdout."""

from __future__ import annotations

import asyncio
import logging
import sys

from django.core.management.base import BaseCommand, CommandError

from apps.protocols.mcp.auth import Denied
from apps.protocols.mcp.stdio import run_stdio


class Command(BaseCommand):
    """Speak MCP on stdin/stdout for desktop clients that spawn the gateway."""

    help = "Serve one virtual server over MCP stdio (newline-delimited JSON-RPC)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--server", required=True, help="virtual server id")
        parser.add_argument("--token", default=None, help="API token or JWT (or MCP_TOKEN in the environment)")

    def handle(self, *args, **options) -> None:
        import os

        # stdout carries protocol messages only: logs go to stderr.
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
        token = options["token"] or os.environ.get("MCP_TOKEN")
        try:
            asyncio.run(run_stdio(options["server"], token))
        except Denied as denied:
            raise CommandError(f"{denied.status}: {denied.message}") from None
        except KeyboardInterrupt:
            pass
