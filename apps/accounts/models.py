"""The user model: email is the identity; platform admins hold every permission."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager):
    """Creates users keyed by a normalised email."""

    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        """Create an active user with a hashed password (unusable when None)."""
        if not email:
            raise ValueError("email: required")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        """Create a platform admin."""
        fields["is_platform_admin"] = True
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, username: str) -> User:
        """Look up by email, case-insensitively."""
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person or service account, identified by email."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=255, blank=True)
    is_platform_admin = models.BooleanField(
        default=False, help_text="Holds every permission everywhere and may use the admin site."
    )
    is_active = models.BooleanField(default=True)
    password_change_required = models.BooleanField(default=False)
    failed_login_count = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    @property
    def is_superuser(self) -> bool:
        """Django's superuser flag follows is_platform_admin (replaces PermissionsMixin's field)."""
        return self.is_platform_admin

    @property
    def is_staff(self) -> bool:
        """Only platform admins may use the Django admin."""
        return self.is_platform_admin

    @property
    def is_locked(self) -> bool:
        """True while a lockout after failed logins is in force."""
        return self.locked_until is not None and self.locked_until > timezone.now()

    def get_full_name(self) -> str:
        """The display name, falling back to the email."""
        return self.full_name or self.email

    def get_short_name(self) -> str:
        """The part before the @."""
        return self.email.split("@", 1)[0]


def _token_id() -> str:
    return uuid.uuid4().hex


class ApiToken(models.Model):
    """A long-lived API token: the secret is shown once; only its SHA-256 hash is stored.

    Scopes only narrow the owner's rights: a team, a set of virtual servers, a set of
    permissions and an IP/CIDR allow list (empty lists mean "no narrowing").
    """

    id = models.CharField(primary_key=True, max_length=32, default=_token_id, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, max_length=1000)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(max_length=16, editable=False, help_text="First characters, to recognise it.")
    team = models.ForeignKey("teams.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens")
    server_ids = models.JSONField(default=list, blank=True)
    permissions = models.JSONField(default=list, blank=True)
    ip_restrictions = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    usage_count = models.PositiveBigIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=254, blank=True)
    revocation_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="unique_token_name_per_user")]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_prefix}…)"

    @property
    def is_revoked(self) -> bool:
        """True once revoked."""
        return self.revoked_at is not None


class RevokedToken(models.Model):
    """A revoked JWT (or API token), by its jti; checked on every authentication."""

    jti = models.CharField(primary_key=True, max_length=64)
    revoked_at = models.DateTimeField(default=timezone.now)
    revoked_by = models.CharField(max_length=254, blank=True)
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-revoked_at"]

    def __str__(self) -> str:
        return self.jti
