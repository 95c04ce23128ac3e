"""The password authentication backend: Django's ModelBackend with account lockout.

Every password sign-in (allauth's UI login, the admin login, basic auth) goes through
``services.check_login``, so failures are counted and a locked account is refused even
with the right password. Raising PermissionDenied stops Django from asking later backends.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from .services import LoginFailed, check_login


class LockoutBackend(ModelBackend):
    """Email + password, with failed-login counting and lockout."""

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        """The user for these credentials, None when wrong; PermissionDenied while locked."""
        email = username or kwargs.get("email")
        if not email or password is None:
            return None
        try:
            return check_login(email, password)
        except LoginFailed as exc:
            if exc.reason == "locked":
                raise PermissionDenied("account locked") from None
            return None
