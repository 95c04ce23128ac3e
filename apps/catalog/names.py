"""Naming rules: namespaced names of federated entities and exposed names inside a virtual server."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.utils.text import slugify

__all__ = ["TOOL_NAME_RE", "ExposedTool", "NameCollision", "exposed_tool_names", "namespaced", "slug_for"]

#: MCP tool names: 1-128 of letters, digits, underscore, hyphen, dot.
TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")


class NameCollision(ValueError):
    """Two tools of one virtual server would be exposed under the same name."""


def slug_for(name: str) -> str:
    """A URL- and name-safe slug for a gateway name."""
    return slugify(name)[:200] or "gateway"


def namespaced(gateway_slug: str, original: str) -> str:
    """The gateway-wide name of a federated entity: ``<gateway-slug><sep><original>``."""
    return f"{gateway_slug}{settings.GATEWAY_TOOL_NAME_SEPARATOR}{original}"


@dataclass(frozen=True)
class ExposedTool:
    """One member of a server as input to the naming rule."""

    tool_id: str
    original_name: str
    namespaced_name: str
    alias: str = ""


def exposed_tool_names(members: Iterable[ExposedTool]) -> dict[str, str]:
    """Map tool id -> exposed name inside one server, or raise ``NameCollision``.

    A tool is exposed under its original name unless another tool of the server has
    the same original name, then under its namespaced name; an alias beats both.
    """
    members = list(members)
    originals = Counter(m.original_name for m in members if not m.alias)
    result: dict[str, str] = {}
    for m in members:
        if m.alias:
            result[m.tool_id] = m.alias
        elif originals[m.original_name] > 1:
            result[m.tool_id] = m.namespaced_name
        else:
            result[m.tool_id] = m.original_name
    by_name: dict[str, list[ExposedTool]] = {}
    for m in members:
        by_name.setdefault(result[m.tool_id], []).append(m)
    clashes = {name: group for name, group in by_name.items() if len(group) > 1}
    if clashes:
        parts = [
            f"{name!r} is exposed by " + ", ".join(sorted(m.namespaced_name for m in group))
            for name, group in sorted(clashes.items())
        ]
        raise NameCollision("tool name collision in this server: " + "; ".join(parts))
    return result
