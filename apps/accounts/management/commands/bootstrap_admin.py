"""Create the platform admin from PLATFORM_ADMIN_EMAIL / PLATFORM_ADMIN_PASSWORD (idempotent)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.services import bootstrap_platform_admin


class Command(BaseCommand):
    """manage.py bootstrap_admin"""

    help = "Create the platform admin account if it does not exist."

    def handle(self, *args, **options) -> None:
        email = settings.PLATFORM_ADMIN_EMAIL
        password = settings.PLATFORM_ADMIN_PASSWORD
        if not password:
            raise CommandError("PLATFORM_ADMIN_PASSWORD: expected a password (or PLATFORM_ADMIN_PASSWORD_FILE)")
        result = bootstrap_platform_admin(email, password)
        if result.created:
            self.stdout.write(f"platform admin {email} created")
        else:
            self.stdout.write(f"platform admin {email} already exists")
        if not settings.PRODUCTION and password == "changeme":  # noqa: S105 - detecting the development default
            self.stderr.write(
                self.style.WARNING(
                    f"WARNING: development credentials in use: {email} / {password} "
                    "(set PLATFORM_ADMIN_EMAIL and PLATFORM_ADMIN_PASSWORD before exposing this instance)"
                )
            )
