"""The official MCP conformance suite (server scenarios) against /servers/<id>/mcp.

Runs ../shared/tools/mcp-conformance (MCP_CONFORMANCE_TOOL overrides the path) against a
gateway process with MCP_REQUIRE_AUTH=false serving a public virtual server of real catalog
data (tests/protocols/mcp/catalog_data.py), scenario by scenario. The scenarios listed in
README.md as needing an upstream (sampling, elicitation, progress, logging and rich content
produced by an MCP server) are left to the federation tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.catalog.conftest import http_backend  # noqa: F401 - fixture re-export
from tests.protocols.mcp.catalog_data import build_catalog
from tests.servers import ROOT, gateway_env, start_gateway

pytestmark = pytest.mark.slow

#: Scenarios that exercise the protocol itself and the locally served catalog.
SCENARIOS = [
    "server-initialize",
    "ping",
    "logging-set-level",
    "completion-complete",
    "tools-list",
    "tools-call-simple-text",
    "tools-call-error",
    "json-schema-2020-12",
    "resources-list",
    "resources-read-text",
    "resources-read-binary",
    "resources-subscribe",
    "resources-unsubscribe",
    "prompts-list",
    "prompts-get-simple",
    "prompts-get-with-args",
    "server-sse-multiple-streams",
    "server-sse-polling",
    "dns-rebinding-protection",
]


def _tool() -> Path | None:
    configured = os.environ.get("MCP_CONFORMANCE_TOOL")
    candidates = [Path(configured)] if configured else []
    candidates += [parent / "shared" / "tools" / "mcp-conformance" for parent in ROOT.parents]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def test_conformance_suite(transactional_db, http_backend) -> None:  # noqa: F811
    tool = _tool()
    if tool is None or shutil.which("npm") is None:
        pytest.fail("the conformance tool (../shared/tools/mcp-conformance) and npm are required")
    data = build_catalog(http_backend, visibility="public")
    failures = []
    with start_gateway(env=gateway_env(MCP_REQUIRE_AUTH="false")) as gateway:
        url = f"{gateway.url}/servers/{data.server_id}/mcp"
        for scenario in SCENARIOS:
            result = subprocess.run(
                [str(tool), url, "--scenario", scenario], capture_output=True, text=True, timeout=600
            )
            last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
            if result.returncode != 0 or " 0 failed" not in last:
                failures.append(f"{scenario}:\n{result.stdout[-2000:]}{result.stderr[-1000:]}")
    assert not failures, "\n\n".join(failures)
