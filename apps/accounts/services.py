"""Writes to accounts, one function per action.

Every write runs in a transaction; side effects (auth-cache invalidation) are queued
on commit. Admin, REST API, management commands and sign-in all call these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .models import ApiToken, RevokedToken, User
from .principal import Principal
from .tokens import bump_auth_epoch, hash_secret, ip_allowed, new_api_secret

__all__ = [
    "BootstrapResult",
    "LoginFailed",
    "PermissionDenied",
    "authenticate_password",
    "bootstrap_platform_admin",
    "change_password",
    "check_login",
    "create_api_token",
    "create_user",
    "deactivate_user",
    "delete_user",
    "invalidate_auth_cache",
    "revoke_api_token",
    "revoke_jti",
    "unlock_user",
    "update_api_token",
    "update_user",
]


class LoginFailed(Exception):
    """Sign-in refused; ``reason`` is one of invalid, locked, inactive."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PermissionDenied(Exception):
    """The actor may see the target but lacks the permission for this write."""


def invalidate_auth_cache() -> None:
    """Drop every cached bearer verdict in every worker: now, and again once the transaction commits.

    The second bump discards anything another worker cached from pre-commit state in between.
    """
    bump_auth_epoch()
    transaction.on_commit(bump_auth_epoch)


def _validation_error(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


# --- Users ------------------------------------------------------------------------


@dataclass(frozen=True)
class BootstrapResult:
    """What bootstrap_platform_admin did."""

    user: User
    created: bool


@transaction.atomic
def bootstrap_platform_admin(email: str, password: str) -> BootstrapResult:
    """Create the platform admin if absent; otherwise make sure it is an active admin.

    Idempotent: an existing account keeps its password (an operator may have changed it).
    """
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_superuser(email, password, full_name="Platform Administrator")
        return BootstrapResult(user, True)
    if not (user.is_platform_admin and user.is_active):
        user.is_platform_admin = True
        user.is_active = True
        user.save(update_fields=["is_platform_admin", "is_active"])
        invalidate_auth_cache()
    return BootstrapResult(user, False)


def validate_new_password(password: str, user: User | None = None, field: str = "password") -> None:
    """Apply the password policy (length, not like the email, not common); errors name ``field``."""
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({field: list(exc.messages)}) from None


@transaction.atomic
def create_user(
    email: str,
    password: str | None,
    *,
    full_name: str = "",
    is_platform_admin: bool = False,
    password_change_required: bool = False,
) -> User:
    """Create a user (their personal team follows through the teams app)."""
    email = (email or "").strip().lower()
    if not email:
        raise _validation_error("email", "This field is required.")
    if User.objects.filter(email__iexact=email).exists():
        raise _validation_error("email", "A user with this email already exists.")
    if password is not None:
        validate_new_password(password, User(email=email, full_name=full_name))
    return User.objects.create_user(
        email,
        password,
        full_name=full_name,
        is_platform_admin=is_platform_admin,
        password_change_required=password_change_required,
    )


@transaction.atomic
def update_user(user: User, **fields: Any) -> User:
    """Change profile/status fields of a user; password changes go through the policy."""
    allowed = {"full_name", "is_platform_admin", "is_active", "password_change_required", "password"}
    unknown = set(fields) - allowed
    if unknown:
        raise _validation_error(sorted(unknown)[0], "This field cannot be changed.")
    password = fields.pop("password", None)
    if password is not None:
        validate_new_password(password, user)
        user.set_password(password)
    for name, value in fields.items():
        setattr(user, name, value)
    user.save()
    invalidate_auth_cache()
    return user


@transaction.atomic
def deactivate_user(user: User) -> User:
    """Deactivate a user: every session, JWT and API token of theirs stops working."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    invalidate_auth_cache()
    return user


@transaction.atomic
def delete_user(user: User) -> None:
    """Delete a user and (by cascade) their memberships and tokens."""
    user.delete()
    invalidate_auth_cache()


@transaction.atomic
def unlock_user(user: User) -> User:
    """Lift a lockout and reset the failed-login counter (admin action)."""
    user.failed_login_count = 0
    user.locked_until = None
    user.save(update_fields=["failed_login_count", "locked_until"])
    return user


@transaction.atomic
def change_password(user: User, old_password: str, new_password: str) -> User:
    """Change one's own password after checking the old one."""
    if not user.check_password(old_password):
        raise _validation_error("old_password", "The current password is incorrect.")
    validate_new_password(new_password, user, field="new_password")
    user.set_password(new_password)
    user.password_change_required = False
    user.save(update_fields=["password", "password_change_required"])
    return user


# --- Password sign-in with lockout ------------------------------------------------

_DUMMY_HASH = None


def _burn_hash(password: str) -> None:
    """Spend the same time on unknown emails as on known ones (no account enumeration)."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = make_password("not-a-real-password")
    User(password=_DUMMY_HASH).check_password(password)


def _record_failure(user: User) -> None:
    now = timezone.now()
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(failed_login_count=F("failed_login_count") + 1)
        user.refresh_from_db(fields=["failed_login_count"])
        if user.failed_login_count >= settings.MAX_FAILED_LOGIN_ATTEMPTS:
            user.locked_until = now + dt.timedelta(minutes=settings.ACCOUNT_LOCKOUT_MINUTES)
            user.failed_login_count = 0
            user.save(update_fields=["locked_until", "failed_login_count"])


def check_login(email: str, password: str) -> User:
    """The user these credentials sign in, or LoginFailed; counts failures and locks accounts.

    After MAX_FAILED_LOGIN_ATTEMPTS failures the account is locked for
    ACCOUNT_LOCKOUT_MINUTES; while locked even the right password is refused.
    """
    user = User.objects.filter(email__iexact=(email or "").strip()).first()
    if user is None:
        _burn_hash(password or "")
        raise LoginFailed("invalid")
    if user.is_locked:
        raise LoginFailed("locked")
    if not user.check_password(password or ""):
        _record_failure(user)
        raise LoginFailed("locked" if user.is_locked else "invalid")
    if not user.is_active:
        raise LoginFailed("inactive")
    updates = {"last_login": timezone.now()}
    if user.failed_login_count or user.locked_until:
        updates.update(failed_login_count=0, locked_until=None)
    User.objects.filter(pk=user.pk).update(**updates)
    for name, value in updates.items():
        setattr(user, name, value)
    return user


def authenticate_password(
    email: str, password: str, *, client_ip: str | None = None, auth_method: str = "password"
) -> Principal | None:
    """The Principal for an email/password pair (basic auth, legacy endpoints), or None."""
    from apps.teams.principals import principal_for_user

    try:
        user = check_login(email, password)
    except LoginFailed:
        return None
    principal = principal_for_user(user, auth_method=auth_method, client_ip=client_ip)
    return principal if principal.is_authenticated else None


# --- API tokens ---------------------------------------------------------------------


def _clean_scopes(
    user: User,
    *,
    team: Any,
    server_ids: Iterable[str] | None,
    permissions: Iterable[str] | None,
    ip_restrictions: Iterable[str] | None,
) -> dict[str, Any]:
    from apps.teams.models import TeamMember
    from apps.teams.rbac import is_known_permission

    if team is not None and not user.is_platform_admin and not TeamMember.objects.filter(team=team, user=user).exists():
        raise _validation_error("team_id", "You are not a member of this team.")
    ips = [str(x).strip() for x in ip_restrictions or []]
    for entry in ips:
        if not ip_allowed(entry.split("/")[0], [entry]):
            raise _validation_error("ip_restrictions", f"Not an IP address or CIDR network: {entry!r}.")
    perms = sorted({str(p).strip() for p in permissions or []})
    for perm in perms:
        if not is_known_permission(perm):
            raise _validation_error("permissions", f"Unknown permission: {perm!r}.")
    servers = sorted({str(s).strip() for s in server_ids or [] if str(s).strip()})
    return {"team": team, "server_ids": servers, "permissions": perms, "ip_restrictions": ips}


def _narrow_to(
    within: Principal, team: Any, server_ids: Iterable[str] | None, permissions: Iterable[str] | None
) -> tuple[Any, list[str] | None, list[str] | None]:
    """Keep a new token inside the scopes of the credential that mints it."""
    from apps.teams.models import Team
    from apps.teams.rbac import matches

    if within.scope_team_id is not None:
        if team is None:
            team = Team.objects.get(pk=within.scope_team_id)
        elif team.pk != within.scope_team_id:
            raise _validation_error("team_id", "Outside the team your credential is limited to.")
    servers = list(server_ids or [])
    if within.scope_server_ids is not None:
        if not servers:
            servers = sorted(within.scope_server_ids)
        elif not set(servers) <= within.scope_server_ids:
            raise _validation_error("scope", "Servers outside the ones your credential is limited to.")
    perms = list(permissions or [])
    if within.scope_permissions is not None:
        if not perms:
            perms = sorted(within.scope_permissions)
        elif not all(matches(within.scope_permissions, p) and "*" not in p for p in perms):
            raise _validation_error("permissions", "Permissions outside the ones your credential is limited to.")
    return team, servers, perms


@transaction.atomic
def create_api_token(
    user: User,
    *,
    name: str,
    description: str = "",
    expires_in_days: int | None = None,
    expires_at: dt.datetime | None = None,
    team: Any = None,
    server_ids: Iterable[str] | None = None,
    permissions: Iterable[str] | None = None,
    ip_restrictions: Iterable[str] | None = None,
    tags: Iterable[str] | None = None,
    within: Principal | None = None,
) -> tuple[ApiToken, str]:
    """Mint an API token for ``user``; returns the record and the secret (shown once).

    Scopes (team, servers, permissions, IP allow list) only narrow the user's rights.
    ``within`` is the credential minting it: a narrowed credential can only mint tokens
    at least as narrow as itself.
    """
    if within is not None:
        team, server_ids, permissions = _narrow_to(within, team, server_ids, permissions)
    name = (name or "").strip()
    if not name:
        raise _validation_error("name", "This field is required.")
    if expires_in_days is not None:
        if expires_in_days < 1:
            raise _validation_error("expires_in_days", "Must be at least 1.")
        expires_at = timezone.now() + dt.timedelta(days=expires_in_days)
    scopes = _clean_scopes(
        user, team=team, server_ids=server_ids, permissions=permissions, ip_restrictions=ip_restrictions
    )
    secret = new_api_secret()
    token = ApiToken(
        user=user,
        name=name,
        description=description or "",
        token_hash=hash_secret(secret),
        token_prefix=secret[:10],
        expires_at=expires_at,
        tags=sorted({str(t) for t in tags or []}),
        **scopes,
    )
    try:
        with transaction.atomic():
            token.save(force_insert=True)
    except IntegrityError:
        raise _validation_error("name", "You already have a token with this name.") from None
    return token, secret


@transaction.atomic
def update_api_token(token: ApiToken, **fields: Any) -> ApiToken:
    """Rename, re-describe, re-scope or (de)activate a token; scopes still only narrow."""
    if "name" in fields:
        name = (fields.pop("name") or "").strip()
        if not name:
            raise _validation_error("name", "This field is required.")
        if ApiToken.objects.filter(user=token.user, name=name).exclude(pk=token.pk).exists():
            raise _validation_error("name", "You already have a token with this name.")
        token.name = name
    if "description" in fields:
        token.description = fields.pop("description") or ""
    if "is_active" in fields:
        token.is_active = bool(fields.pop("is_active"))
    if "tags" in fields:
        token.tags = sorted({str(t) for t in fields.pop("tags") or []})
    scope_keys = {"server_ids", "permissions", "ip_restrictions"}
    if scope_keys & set(fields):
        scopes = _clean_scopes(
            token.user,
            team=token.team,
            server_ids=fields.pop("server_ids", token.server_ids),
            permissions=fields.pop("permissions", token.permissions),
            ip_restrictions=fields.pop("ip_restrictions", token.ip_restrictions),
        )
        scopes.pop("team")
        for key, value in scopes.items():
            setattr(token, key, value)
    if fields:
        raise _validation_error(sorted(fields)[0], "This field cannot be changed.")
    token.save()
    invalidate_auth_cache()
    return token


@transaction.atomic
def revoke_api_token(token: ApiToken, *, revoked_by: str = "", reason: str = "") -> ApiToken:
    """Revoke a token for good: it stops authenticating in every worker at once."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.is_active = False
        token.revoked_by = revoked_by
        token.revocation_reason = reason[:255]
        token.save(update_fields=["revoked_at", "is_active", "revoked_by", "revocation_reason"])
        RevokedToken.objects.get_or_create(jti=token.pk, defaults={"revoked_by": revoked_by, "reason": reason[:255]})
    invalidate_auth_cache()
    return token


@transaction.atomic
def revoke_jti(jti: str, *, revoked_by: str = "", reason: str = "") -> RevokedToken:
    """Revoke a JWT by its jti."""
    record, _ = RevokedToken.objects.get_or_create(jti=jti, defaults={"revoked_by": revoked_by, "reason": reason})
    invalidate_auth_cache()
    return record
