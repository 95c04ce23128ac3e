"""Re-encrypt every stored credential under the current primary encryption key."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.catalog.crypto import DecryptionError, rotate_token
from apps.catalog.models import Gateway, OAuthState, OAuthToken, Tool

#: (model, field) of every value encrypted at rest.
ENCRYPTED = (
    (Gateway, "auth_secret"),
    (Gateway, "oauth_registration"),
    (Tool, "auth_secret"),
    (OAuthToken, "secret"),
    (OAuthState, "payload"),
)


class Command(BaseCommand):
    """``manage.py rotate_encryption_key``: run after moving the old key to ENCRYPTION_KEY_FALLBACKS."""

    help = "Re-encrypt gateway and tool credentials and upstream OAuth tokens with the primary ENCRYPTION_KEY."

    def handle(self, *args, **options) -> None:
        count = 0
        with transaction.atomic():
            for model, field in ENCRYPTED:
                for pk, token in model.objects.exclude(**{field: ""}).values_list("pk", field):
                    try:
                        model.objects.filter(pk=pk).update(**{field: rotate_token(token)})
                    except DecryptionError as exc:
                        raise CommandError(f"{model.__name__} {pk}: {exc}") from exc
                    count += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} credential record(s)."))
