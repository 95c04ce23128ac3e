"""Writes to accounts, one function per action."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from .models import User


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
    return BootstrapResult(user, False)
