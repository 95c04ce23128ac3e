"""Fixtures of the catalog tests: principals of the personas and small factories."""

from __future__ import annotations

import pytest

from apps.catalog import services
from apps.teams.principals import principal_for_user
from tests.personas import personas  # noqa: F401 - fixture re-export


@pytest.fixture
def as_(personas):  # noqa: F811
    """``as_.owner`` etc.: the Principal of each persona."""

    class Principals:
        admin = principal_for_user(personas.admin)
        owner = principal_for_user(personas.owner)
        member = principal_for_user(personas.member)
        outsider = principal_for_user(personas.outsider)

    return Principals


def make_tool(principal, name="echo", team=None, **fields):
    """A REST tool owned by ``principal``."""
    data = {"name": name, "url": "http://127.0.0.1:9/echo", **fields}
    if team is not None:
        data["team_id"] = team.pk
    return services.create_tool(principal, data)


@pytest.fixture(scope="session")
def http_backend():
    """A real HTTP API on 127.0.0.1 (tests/catalog/http_backend.py) for the whole session."""
    import sys
    from pathlib import Path

    from tests.servers import ServerProcess, free_port

    port = free_port()
    script = Path(__file__).with_name("http_backend.py")
    with ServerProcess([sys.executable, str(script), str(port)], port=port) as server:
        yield server.url
