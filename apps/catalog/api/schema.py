"""OpenAPI generation hooks for the /v1 API."""

from __future__ import annotations

__all__ = ["canonical_paths"]


def canonical_paths(endpoints):
    """Document each route once, without a trailing slash (both forms are served, as in ContextForge)."""
    seen: set[tuple[str, str]] = set()
    result = []
    for path, regex, method, callback in endpoints:
        if path.endswith("/") and path != "/":
            path = path.rstrip("/")
        if (path, method) in seen:
            continue
        seen.add((path, method))
        result.append((path, regex, method, callback))
    return result
