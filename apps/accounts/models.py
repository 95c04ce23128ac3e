"""The user model: email is the identity; platform admins hold every permission."""

from __future__ import annotations

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
