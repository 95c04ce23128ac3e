"""The OpenAPI document generates without warnings: every operation has a unique operationId."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management import call_command


def test_schema_generates_without_warnings(tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    call_command("spectacular", "--fail-on-warn", "--format", "openapi-json", "--file", str(out))
    document = json.loads(out.read_text())
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values() if "operationId" in op]
    assert len(ids) == len(set(ids))
    assert {"v1_tokens_list", "v1_tokens_teams_list", "v1_teams_list", "v1_rbac_roles_list"} <= set(ids)
