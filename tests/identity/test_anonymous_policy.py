"""Anonymous callers: read and execute public objects, nothing else."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from apps.accounts.principal import ANONYMOUS
from apps.teams.permissions import has_permission


@pytest.mark.parametrize("permission", ["tools.execute", "resources.read", "prompts.read", "tools.read"])
def test_anonymous_may_use_public_objects(permission):
    public = SimpleNamespace(visibility="public", team_id=None, owner_id=None)
    assert has_permission(ANONYMOUS, permission, obj=public) is True


@pytest.mark.parametrize("visibility", ["team", "private"])
def test_anonymous_may_not_use_non_public_objects(visibility):
    hidden = SimpleNamespace(visibility=visibility, team_id=1, owner_id=1)
    assert has_permission(ANONYMOUS, "tools.execute", obj=hidden) is False


@pytest.mark.parametrize("permission", ["tools.create", "tools.update", "servers.delete", "admin.users"])
def test_anonymous_may_not_write_even_public_objects(permission):
    public = SimpleNamespace(visibility="public", team_id=None, owner_id=None)
    assert has_permission(ANONYMOUS, permission, obj=public) is False
    assert has_permission(ANONYMOUS, permission) is False
