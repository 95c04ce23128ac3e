"""A per-worker memo of hot catalog reads, invalidated on write across workers.

Resolving a tool for a call (visibility, server membership, exposed names, permission,
upstream target) takes several ORM queries, a virtual server lookup or a listing more.
Their answers change only when catalog rows, teams, roles or users change. Every such
write moves a *version token* kept in the cache backend (Redis in production, so every
worker sees it): once when the row is written and again after the transaction commits.
Each worker keeps answers computed under the current token (and the current auth epoch)
and drops them all when either moves; workers learn of a move by Redis pub/sub
(``contextforge.versions``), so a warm call costs no round trip and no database query.

Hand-written rather than a generic TTL cache, because the invalidation is the point:
callers read the stamp *before* they ask the database and store the answer under that
stamp, so an answer computed while a write commits is filed under the old token and is
never served once the token has moved.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Hashable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from apps.accounts.principal import Principal
from apps.accounts.tokens import EPOCH_KEY
from contextforge import versions

logger = logging.getLogger(__name__)

__all__ = ["MISSING", "bump", "clear", "connect", "get", "principal_key", "put", "stamp"]

VERSION_KEY = "cf:catalog:version"
STAMP_KEYS = (VERSION_KEY, EPOCH_KEY)
MISSING: Any = object()

# The rows whose writes can change what a caller resolves: visibility, membership, names,
# permissions, upstream targets. (Metrics and audit rows are not among them.)
_WATCHED = (
    ("catalog", "Gateway"),
    ("catalog", "Tool"),
    ("catalog", "Resource"),
    ("catalog", "ResourceTemplate"),
    ("catalog", "Prompt"),
    ("catalog", "VirtualServer"),
    ("catalog", "ServerTool"),
    ("teams", "Team"),
    ("teams", "TeamMember"),
    ("teams", "Role"),
    ("teams", "RoleAssignment"),
    ("accounts", "User"),
    ("accounts", "ApiToken"),
    ("accounts", "RevokedToken"),
)


class _Memo:
    """Answers filed under one stamp; a different stamp empties it."""

    def __init__(self) -> None:
        self.stamp: tuple[Any, Any] | None = None
        self.entries: dict[Hashable, Any] = {}


_memo = _Memo()


def _limit() -> int:
    return settings.CATALOG_MEMO_ENTRIES


def stamp() -> tuple[Any, Any] | None:
    """The current (catalog version, auth epoch), or None when answers must not be memoised.

    Read from this process's copy of the version tokens (``contextforge.versions``): no
    round trip unless a token moved. Read it before asking the database.
    """
    if _limit() <= 0:
        return None
    try:
        values = versions.read(STAMP_KEYS)
        version = values.get(VERSION_KEY)
        if version is None:
            cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
            versions.announce()
            values = versions.read(STAMP_KEYS)
            version = values.get(VERSION_KEY)
    except Exception:  # the cache backend is down: answer from the database every time
        logger.warning("catalog version unavailable; not memoising", exc_info=True)
        return None
    if version is None:
        return None
    return (version, values.get(EPOCH_KEY))


def get(current: tuple[Any, Any] | None, key: Hashable) -> Any:
    """The answer filed under ``current`` for ``key``, else MISSING."""
    if current is None:
        return MISSING
    if _memo.stamp != current:
        _memo.stamp, _memo.entries = current, {}
        return MISSING
    return _memo.entries.get(key, MISSING)


def put(current: tuple[Any, Any] | None, key: Hashable, value: Any) -> None:
    """File ``value`` under ``current`` (dropped if the stamp has moved meanwhile)."""
    if current is None or _memo.stamp != current:
        return
    entries = _memo.entries
    if len(entries) >= _limit():
        entries.pop(next(iter(entries)))  # oldest first: dicts keep insertion order
    entries[key] = value


def clear() -> None:
    """Forget every answer of this worker."""
    _memo.stamp, _memo.entries = None, {}


def principal_key(principal: Principal) -> tuple[Any, ...]:
    """Everything about a caller that decides what it may see and run (not its address)."""
    return (
        principal.user_id,
        principal.is_platform_admin,
        principal.team_ids,
        principal.auth_method,
        principal.token_id,
        principal.scope_team_id,
        principal.scope_server_ids,
        principal.scope_permissions,
    )


def bump() -> None:
    """Move the version token now and again after commit: every worker's answers are dropped."""
    _move()
    transaction.on_commit(_move)


def _move() -> None:
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        versions.announce()
    except Exception:
        logger.exception("could not move the catalog version")
    clear()


def _on_write(sender: Any, **kwargs: Any) -> None:
    bump()


def _on_catalog_changed(sender: Any, **kwargs: Any) -> None:
    _move()  # sent after commit


def connect() -> None:
    """Bump on every write to a watched model and on the catalog's change signal (idempotent)."""
    from django.apps import apps

    from .signals import catalog_changed

    catalog_changed.connect(_on_catalog_changed, dispatch_uid="catalog.hotcache.changed")
    for app_label, name in _WATCHED:
        model = apps.get_model(app_label, name)
        uid = f"catalog.hotcache.{app_label}.{name}"
        post_save.connect(_on_write, sender=model, dispatch_uid=uid + ".save")
        post_delete.connect(_on_write, sender=model, dispatch_uid=uid + ".delete")
    for field in (
        apps.get_model("catalog", "VirtualServer")._meta.many_to_many
        + apps.get_model("accounts", "User")._meta.many_to_many
    ):
        through = field.remote_field.through
        m2m_changed.connect(_on_write, sender=through, dispatch_uid=f"catalog.hotcache.m2m.{through._meta.label}")
