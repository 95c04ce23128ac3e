"""The official conformance suite run through the gateway against the fixture upstream.

The fixture is registered as a gateway (over streamable HTTP, SSE and stdio in turn), all
its tools, resources, templates and prompts are bundled into one public virtual server,
and ``mcp-conformance --suite all`` runs against that server's /servers/<id>/mcp on a
real gateway process with MCP_REQUIRE_AUTH=false: zero failures expected.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from apps.catalog import services
from apps.catalog.models import Prompt, Resource, ResourceTemplate, Tool
from apps.teams.principals import principal_for_user
from tests.personas import make_personas
from tests.protocols.mcp.test_conformance import _tool
from tests.servers import gateway_env, start_gateway

from .conftest import FIXTURE_MODULE, fixture_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def bundle(owner, gateway) -> str:
    """One public virtual server with everything the gateway federates; returns its id."""
    server = services.create_server(
        owner,
        {
            "name": f"bundle-{gateway.slug}",
            "visibility": "public",
            "tools": list(Tool.objects.filter(gateway=gateway).values_list("pk", flat=True)),
            "resources": list(Resource.objects.filter(gateway=gateway).values_list("pk", flat=True)),
            "resource_templates": list(ResourceTemplate.objects.filter(gateway=gateway).values_list("pk", flat=True)),
            "prompts": list(Prompt.objects.filter(gateway=gateway).values_list("pk", flat=True)),
        },
    )
    return str(server.pk)


def _failures(results: Path) -> str:
    """The failed checks the suite wrote, one line each."""
    lines = []
    for checks in sorted(results.glob("*/checks.json")):
        for check in json.loads(checks.read_text()):
            if check.get("status") == "FAILURE":
                lines.append(f"{checks.parent.name}: {check.get('errorMessage')}")
    return "\n".join(lines)


@pytest.mark.parametrize("transport", ["streamable-http", "sse", "stdio"])
def test_conformance_suite_through_the_gateway(registered_runtime, transport: str, tmp_path: Path) -> None:
    tool = _tool()
    if tool is None or shutil.which("npm") is None:
        pytest.fail("the conformance tool (../shared/tools/mcp-conformance) and npm are required")
    owner = principal_for_user(make_personas().owner)
    with contextlib.ExitStack() as stack:
        if transport == "stdio":
            data = {"transport": "STDIO", "command": sys.executable, "args": ["-m", FIXTURE_MODULE]}
        else:
            upstream = stack.enter_context(fixture_server(transport))
            path, kind = ("/mcp", "STREAMABLEHTTP") if transport == "streamable-http" else ("/sse", "SSE")
            data = {"transport": kind, "url": f"{upstream.url}{path}"}
        gateway = services.create_gateway(owner, {"name": "fixture", "visibility": "public", **data})
        server_id = bundle(owner, gateway)
        gw = stack.enter_context(start_gateway(env=gateway_env(MCP_REQUIRE_AUTH="false")))
        result = subprocess.run(
            [str(tool), f"{gw.url}/servers/{server_id}/mcp", "--suite", "all", "-o", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=900,
        )
        summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
        assert result.returncode == 0 and " 0 failed" in summary, (
            _failures(tmp_path) + "\n" + summary + "\n" + result.stderr[-2000:] + gw.output()[-3000:]
        )
