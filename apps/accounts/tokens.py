"""Bearer credentials: JWTs and API tokens, and the one function that resolves them.

``authenticate_bearer(token, client_ip)`` is used by every entry point (REST, MCP, A2A):
it turns a bearer string into a :class:`Principal` or ``None``. Results are cached
briefly in the cache backend under a key that includes the *auth epoch*; revoking a
token, deactivating a user or changing a membership bumps the epoch, so every worker
stops trusting its cached answers at once (DESIGN rule 9: no process-local truth).

Two kinds of bearer string are accepted:

* JWTs (pyjwt) signed with HS256 by default, or RS256/ES256 with key files; ``iss``,
  ``aud``, ``exp``, ``iat``, ``jti`` and ``sub`` are required and validated, with a
  clock-skew leeway; ``alg=none`` and any algorithm other than the configured one are
  refused. A ``scopes`` claim may narrow the caller (team, servers, permissions).
* API tokens: ``cf_`` followed by a random secret, stored only as a SHA-256 hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import logging
import secrets
import time
import uuid
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jwt
from django.conf import settings
from django.core.cache import cache as django_cache
from django.db.models import F
from django.utils import timezone

from contextforge import versions

from .principal import Principal

__all__ = [
    "API_TOKEN_PREFIX",
    "EPOCH_KEY",
    "MISSING",
    "InvalidToken",
    "auth_epoch",
    "authenticate_bearer",
    "bump_auth_epoch",
    "decode_jwt",
    "hash_secret",
    "ip_allowed",
    "issue_jwt",
    "known_bearer",
    "new_api_secret",
    "pending_usage",
]

log = logging.getLogger(__name__)

API_TOKEN_PREFIX = "cf_"  # noqa: S105 - a marker, not a secret
MAX_BEARER_LENGTH = 8192
_EPOCH_KEY = "cf:auth:epoch"
EPOCH_KEY = _EPOCH_KEY  # read together with other version keys by per-worker memos
_USAGE_KEY = "cf:auth:usage:{}"
_INVALID = {"invalid": True}
#: ``known_bearer``'s answer when this process has not verified the token recently.
MISSING: Any = object()


class InvalidToken(Exception):
    """A bearer string that is malformed, forged, expired or revoked."""


# --- Auth epoch -------------------------------------------------------------------


def _first_epoch() -> int:
    # Random, not 1: a cache that lost the key must not bring back an epoch whose answers
    # a process may still hold.
    return secrets.randbelow(2**53) + 1


def auth_epoch() -> int:
    """The current auth epoch (shared by all workers through the cache backend)."""
    value = versions.read([_EPOCH_KEY]).get(_EPOCH_KEY)
    if value is None:
        django_cache.add(_EPOCH_KEY, _first_epoch(), timeout=None)
        versions.announce()
        value = versions.read([_EPOCH_KEY]).get(_EPOCH_KEY, 1)
    return int(value)


def bump_auth_epoch() -> int:
    """Invalidate every cached authentication result, in every worker."""
    django_cache.add(_EPOCH_KEY, _first_epoch(), timeout=None)
    try:
        epoch = int(django_cache.incr(_EPOCH_KEY))
    except ValueError:  # evicted between add and incr
        epoch = _first_epoch()
        django_cache.set(_EPOCH_KEY, epoch, timeout=None)
    versions.announce()
    return epoch


# --- JWT --------------------------------------------------------------------------


@cache
def _read_key(path: str) -> str:
    return Path(path).read_text()


def _signing_key() -> str:
    algorithm = settings.JWT_ALGORITHM
    if algorithm.startswith("HS"):
        return settings.JWT_SECRET_KEY
    return _read_key(settings.JWT_PRIVATE_KEY_FILE)


def _verifying_key() -> str:
    algorithm = settings.JWT_ALGORITHM
    if algorithm.startswith("HS"):
        return settings.JWT_SECRET_KEY
    return _read_key(settings.JWT_PUBLIC_KEY_FILE)


def issue_jwt(
    user: Any,
    *,
    minutes: int | None = None,
    team_id: int | None = None,
    server_ids: Iterable[str] | None = None,
    permissions: Iterable[str] | None = None,
    jti: str | None = None,
) -> str:
    """A signed JWT for ``user``, valid for ``minutes`` (JWT_EXPIRY_MINUTES by default).

    Optional scopes narrow what the bearer may do; they never widen the user's rights.
    """
    now = timezone.now()
    lifetime = dt.timedelta(minutes=minutes if minutes is not None else settings.JWT_EXPIRY_MINUTES)
    claims: dict[str, Any] = {
        "sub": user.email,
        "uid": user.pk,
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": jti or uuid.uuid4().hex,
    }
    scopes: dict[str, Any] = {}
    if team_id is not None:
        scopes["team_id"] = int(team_id)
    if server_ids:
        scopes["server_ids"] = sorted({str(s) for s in server_ids})
    if permissions:
        scopes["permissions"] = sorted(set(permissions))
    if scopes:
        claims["scopes"] = scopes
    return jwt.encode(claims, _signing_key(), algorithm=settings.JWT_ALGORITHM)


def decode_jwt(token: str) -> dict[str, Any]:
    """Verify a JWT's signature and registered claims; raise InvalidToken otherwise."""
    try:
        return jwt.decode(
            token,
            _verifying_key(),
            algorithms=[settings.JWT_ALGORITHM],
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
            leeway=settings.JWT_LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "jti", "sub"]},
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from None


# --- API token secrets ------------------------------------------------------------


def new_api_secret() -> str:
    """A fresh API token secret (shown to its owner once)."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The SHA-256 hex digest under which a secret is stored and looked up."""
    return hashlib.sha256(secret.encode()).hexdigest()


def ip_allowed(client_ip: str | None, allow_list: Iterable[str]) -> bool:
    """Whether ``client_ip`` falls in the IP/CIDR allow list (an empty list allows all)."""
    networks = list(allow_list)
    if not networks:
        return True
    if not client_ip:
        return False
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    for entry in networks:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


# --- Resolution -------------------------------------------------------------------


def _principal_to_cache(principal: Principal) -> dict[str, Any]:
    data = principal.as_dict()
    data.pop("client_ip", None)
    return data


def _principal_from_cache(data: dict[str, Any], client_ip: str | None) -> Principal:
    values = dict(data)
    values["team_ids"] = frozenset(values.get("team_ids") or ())
    for key in ("scope_server_ids", "scope_permissions"):
        if values.get(key) is not None:
            values[key] = frozenset(values[key])
    values["client_ip"] = client_ip
    return Principal(**values)


def _build_principal(user: Any, **narrowing: Any) -> Principal | None:
    # Imported here: apps.teams depends on apps.accounts, not the other way at import time.
    from apps.teams.principals import principal_for_user

    principal = principal_for_user(user, **narrowing)
    return principal if principal.is_authenticated else None


def _resolve_jwt(token: str) -> tuple[Principal, list[str], float] | None:
    from .models import RevokedToken, User

    claims = decode_jwt(token)
    if RevokedToken.objects.filter(jti=str(claims["jti"])).exists():
        raise InvalidToken("revoked")
    user = User.objects.filter(email__iexact=str(claims["sub"])).first()
    if user is None:
        raise InvalidToken("unknown subject")
    scopes = claims.get("scopes") or {}
    if not isinstance(scopes, dict):
        raise InvalidToken("scopes: expected an object")
    try:
        team_id = int(scopes["team_id"]) if scopes.get("team_id") is not None else None
        server_ids = frozenset(str(s) for s in scopes["server_ids"]) if scopes.get("server_ids") else None
        permissions = frozenset(str(p) for p in scopes["permissions"]) if scopes.get("permissions") else None
        ip_list = [str(x) for x in scopes.get("ip_restrictions") or []]
    except (TypeError, ValueError):
        raise InvalidToken("scopes: malformed") from None
    principal = _build_principal(
        user,
        auth_method="jwt",
        token_id=str(claims["jti"]),
        scope_team_id=team_id,
        scope_server_ids=server_ids,
        scope_permissions=permissions,
    )
    if principal is None:
        raise InvalidToken("inactive user")
    return principal, ip_list, float(claims["exp"])


def _resolve_api_token(token: str) -> tuple[Principal, list[str], float | None] | None:
    from .models import ApiToken

    record = ApiToken.objects.select_related("user").filter(token_hash=hash_secret(token)).first()
    if record is None or not record.is_active or record.revoked_at is not None:
        raise InvalidToken("unknown or revoked API token")
    if record.expires_at is not None and record.expires_at <= timezone.now():
        raise InvalidToken("expired API token")
    principal = _build_principal(
        record.user,
        auth_method="api_token",
        token_id=record.pk,
        scope_team_id=record.team_id,
        scope_server_ids=frozenset(str(s) for s in record.server_ids) if record.server_ids else None,
        scope_permissions=frozenset(record.permissions) if record.permissions else None,
    )
    if principal is None:
        raise InvalidToken("inactive user")
    expires = record.expires_at.timestamp() if record.expires_at else None
    return principal, list(record.ip_restrictions or []), expires


def _record_usage(token_id: str, client_ip: str | None, *, flush: bool) -> None:
    """Count one use of an API token: in the cache on hits, flushed to the database on misses."""
    from .models import ApiToken

    key = _USAGE_KEY.format(token_id)
    if not flush:
        django_cache.add(key, 0, timeout=None)
        try:
            django_cache.incr(key)
        except ValueError:
            django_cache.set(key, 1, timeout=None)
        return
    pending = int(django_cache.get(key) or 0)
    if pending:
        django_cache.decr(key, pending)
    ip = client_ip
    try:
        ipaddress.ip_address(ip or "")
    except ValueError:
        ip = None
    ApiToken.objects.filter(pk=token_id).update(
        usage_count=F("usage_count") + pending + 1, last_used=timezone.now(), last_used_ip=ip
    )


def pending_usage(token_id: str) -> int:
    """Uses of an API token counted in the cache and not yet written to the database."""
    return int(django_cache.get(_USAGE_KEY.format(token_id)) or 0)


class _LocalAnswers:
    """This process's copy of recent bearer answers, all under one auth epoch.

    Spares the cache round trip (and, for async callers, the thread hop) on every request
    of a warm token; entries live no longer than the shared entry (AUTH_CACHE_SECONDS) and
    all go when the epoch moves.
    """

    limit = 4096

    def __init__(self) -> None:
        self.epoch: int | None = None
        self.entries: dict[str, tuple[float, dict[str, Any]]] = {}

    def get(self, epoch: int, digest: str) -> dict[str, Any] | None:
        """The cached answer of ``digest`` under ``epoch``, if still fresh."""
        if self.epoch != epoch:
            self.epoch, self.entries = epoch, {}
            return None
        entry = self.entries.get(digest)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    def put(self, epoch: int, digest: str, answer: dict[str, Any], seconds: float) -> None:
        """Keep ``answer`` for ``seconds`` (dropped when the epoch has moved meanwhile)."""
        if self.epoch != epoch or seconds <= 0:
            return
        if len(self.entries) >= self.limit:
            self.entries.pop(next(iter(self.entries)))
        self.entries[digest] = (time.monotonic() + seconds, answer)


_local_answers = _LocalAnswers()


def _from_answer(answer: dict[str, Any], client_ip: str | None) -> Principal | None:
    """The caller a cached answer stands for, now and from this address (None when not valid)."""
    if answer.get("invalid") or (answer["exp"] is not None and answer["exp"] <= time.time()):
        return None
    if not ip_allowed(client_ip, answer["ip"]):
        return None
    principal = answer.get("built")
    if principal is None:
        principal = answer["built"] = _principal_from_cache(answer["principal"], None)
    return principal.with_client_ip(client_ip)


def _bearer_digest(token: str) -> str | None:
    if not token or len(token) > MAX_BEARER_LENGTH or not token.isascii():
        return None
    return hashlib.sha256(token.encode()).hexdigest()


def known_bearer(token: str, client_ip: str | None) -> Principal | Any | None:
    """The answer for a bearer this process verified recently (under the current epoch), else MISSING.

    Never touches the database; safe to call on an event loop. API tokens answer MISSING
    (their use is counted through the cache on every request): ask ``authenticate_bearer``.
    """
    digest = _bearer_digest(token)
    if digest is None:
        return None
    answer = _local_answers.get(auth_epoch(), digest)
    if answer is None or answer.get("api_token"):
        return MISSING
    return _from_answer(answer, client_ip)


def authenticate_bearer(token: str, client_ip: str | None) -> Principal | None:
    """The caller a bearer string stands for, or None when it is not valid now.

    Sync (it may query the database); async callers wrap it in
    ``sync_to_async(thread_sensitive=False)``. Never raises for bad input.
    """
    digest = _bearer_digest(token)
    if digest is None:
        return None
    epoch = auth_epoch()
    key = f"cf:auth:{epoch}:{digest}"
    cached = _local_answers.get(epoch, digest)
    if cached is None:
        cached = django_cache.get(key)
        if cached is not None:
            cached["api_token"] = cached.get("principal", {}).get("auth_method") == "api_token"
            _local_answers.put(epoch, digest, cached, settings.AUTH_CACHE_SECONDS)
    now = timezone.now().timestamp()
    if cached is not None:
        principal = _from_answer(cached, client_ip)
        if principal is not None and principal.auth_method == "api_token":
            _record_usage(principal.token_id, client_ip, flush=False)
        return principal
    ttl = settings.AUTH_CACHE_SECONDS
    try:
        resolved = _resolve_api_token(token) if token.startswith(API_TOKEN_PREFIX) else _resolve_jwt(token)
    except InvalidToken as exc:
        log.info("bearer token rejected: %s", exc)
        if ttl:
            django_cache.set(key, _INVALID, timeout=ttl)
            _local_answers.put(epoch, digest, dict(_INVALID), ttl)
        return None
    principal, ip_list, expires = resolved
    if ttl:
        timeout = ttl if expires is None else max(1, min(ttl, int(expires - now)))
        answer = {"principal": _principal_to_cache(principal), "ip": ip_list, "exp": expires}
        django_cache.set(key, answer, timeout=timeout)
        answer["api_token"] = principal.auth_method == "api_token"
        _local_answers.put(epoch, digest, answer, timeout)
    if not ip_allowed(client_ip, ip_list):
        return None
    if principal.auth_method == "api_token":
        _record_usage(principal.token_id, client_ip, flush=True)
    return principal.with_client_ip(client_ip)
