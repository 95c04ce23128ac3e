"""Encryption at rest for upstream credentials (Fernet: AES-128-CBC + HMAC-SHA256).

The primary key comes from ``settings.ENCRYPTION_KEY`` (a Fernet key, or any secret from
which one is derived), else it is derived from ``SECRET_KEY``. Keys listed in
``ENCRYPTION_KEY_FALLBACKS`` still decrypt, so a key can be rotated without downtime:
set the new key, move the old one to the fallbacks, run ``manage.py rotate_encryption_key``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["DecryptionError", "decrypt_json", "encrypt_json", "fernet_for", "rotate_token"]


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


def fernet_for(secret: str) -> Fernet:
    """A Fernet for a key: used as-is when it is a Fernet key, else derived with SHA-256."""
    try:
        return Fernet(secret.encode() if isinstance(secret, str) else secret)
    except (ValueError, TypeError):
        digest = hashlib.sha256(b"contextforge-encryption:" + secret.encode()).digest()
        return Fernet(base64.urlsafe_b64encode(digest))


@cache
def _keyring(primary: str | None, fallbacks: tuple[str, ...], secret_key: str) -> MultiFernet:
    keys = [fernet_for(primary or secret_key)] + [fernet_for(k) for k in fallbacks]
    return MultiFernet(keys)


def keyring() -> MultiFernet:
    """The configured keys: the primary encrypts, all of them decrypt."""
    return _keyring(settings.ENCRYPTION_KEY, tuple(settings.ENCRYPTION_KEY_FALLBACKS), settings.SECRET_KEY)


def encrypt_json(value: dict[str, Any] | None) -> str:
    """Encrypt a JSON-able mapping; an empty mapping is stored as the empty string."""
    if not value:
        return ""
    return keyring().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict[str, Any]:
    """Decrypt what ``encrypt_json`` produced; the empty string is the empty mapping."""
    if not token:
        return {}
    try:
        return json.loads(keyring().decrypt(token.encode()))
    except InvalidToken as exc:
        raise DecryptionError("stored credentials cannot be decrypted with the configured keys") from exc


def rotate_token(token: str) -> str:
    """Re-encrypt a token under the primary key (decrypting with any configured key)."""
    if not token:
        return token
    try:
        return keyring().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("stored credentials cannot be decrypted with the configured keys") from exc
