"""The official MCP conformance suite (server scenarios) against /servers/<id>/mcp.

Runs ../shared/tools/mcp-conformance (MCP_CONFORMANCE_TOOL overrides the path) against a
gateway process with MCP_REQUIRE_AUTH=false, scenario by scenario. The scenarios listed in
README.md as needing an upstream (sampling, elicitation, progress, logging and rich content
produced by an MCP server) are left to the federation tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.servers import ROOT, VENV_BIN, ServerProcess, free_port, gateway_env

pytestmark = pytest.mark.slow

#: Scenarios that exercise the protocol itself and the locally served catalog.
SCENARIOS = [
    "server-initialize",
    "ping",
    "logging-set-level",
    "completion-complete",
    "tools-list",
    "resources-list",
    "resources-read-text",
    "resources-subscribe",
    "resources-unsubscribe",
    "prompts-list",
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


@pytest.fixture(scope="module")
def conformance_gateway(django_db_blocker):
    port = free_port()
    argv = [str(VENV_BIN / "uvicorn"), "tests.protocols.mcp.fake_asgi:application", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--lifespan", "on"]
    with django_db_blocker.unblock():
        env = gateway_env(MCP_REQUIRE_AUTH="false")
    with ServerProcess(argv, port=port, env=env) as server:
        yield server


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_conformance_scenario(conformance_gateway, scenario: str) -> None:
    tool = _tool()
    if tool is None or shutil.which("npm") is None:
        pytest.fail("the conformance tool (../shared/tools/mcp-conformance) and npm are required")
    result = subprocess.run(
        [str(tool), f"{conformance_gateway.url}/servers/s1/mcp", "--scenario", scenario],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " 0 failed" in result.stdout.strip().splitlines()[-1]
