"""Typed readers for environment variables that fail loudly.

Every reader names the variable and what it expected when a value is wrong, so a
misconfigured process stops before it serves anything. Secrets may be given as
``NAME_FILE`` pointing at a file whose content is the value (Docker/K8s secrets).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "SettingError",
    "env_bool",
    "env_choice",
    "env_int",
    "env_list",
    "env_secret",
    "env_str",
    "env_url",
]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingError(ImproperlyConfigured):
    """A configuration value is missing or malformed; the message names the variable."""

    def __init__(self, name: str, expected: str, got: str | None) -> None:
        shown = "<unset>" if got is None else repr(got)
        super().__init__(f"{name}: expected {expected}, got {shown}")
        self.name = name


def _raw(name: str, environ: dict[str, str] | None = None) -> str | None:
    value = (os.environ if environ is None else environ).get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def env_str(name: str, default: str | None = None, *, environ: dict[str, str] | None = None) -> str | None:
    """Return the variable's text, or ``default`` when unset or blank."""
    value = _raw(name, environ)
    return default if value is None else value


def env_bool(name: str, default: bool, *, environ: dict[str, str] | None = None) -> bool:
    """Return a boolean from true/false, yes/no, on/off or 1/0."""
    value = _raw(name, environ)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SettingError(name, "a boolean (true/false, yes/no, on/off, 1/0)", value)


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    environ: dict[str, str] | None = None,
) -> int:
    """Return an integer, checked against optional bounds."""
    value = _raw(name, environ)
    if value is None:
        return default
    bounds = ""
    if minimum is not None or maximum is not None:
        bounds = (
            f" between {minimum if minimum is not None else '-inf'} and {maximum if maximum is not None else 'inf'}"
        )
    try:
        number = int(value)
    except ValueError:
        raise SettingError(name, f"an integer{bounds}", value) from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise SettingError(name, f"an integer{bounds}", value)
    return number


def env_choice(name: str, default: str, choices: Iterable[str], *, environ: dict[str, str] | None = None) -> str:
    """Return one of ``choices`` (case-insensitive), lower-cased."""
    options = [c.lower() for c in choices]
    value = _raw(name, environ)
    if value is None:
        return default
    if value.lower() not in options:
        raise SettingError(name, "one of " + "|".join(options), value)
    return value.lower()


def env_list(name: str, default: Iterable[str] = (), *, environ: dict[str, str] | None = None) -> list[str]:
    """Return a comma-separated list with blanks dropped."""
    value = _raw(name, environ)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_url(
    name: str,
    default: str | None,
    schemes: Iterable[str],
    *,
    environ: dict[str, str] | None = None,
) -> str | None:
    """Return a URL whose scheme is one of ``schemes``."""
    allowed = sorted(set(schemes))
    value = _raw(name, environ)
    if value is None:
        return default
    parts = urlsplit(value)
    if parts.scheme.lower() not in allowed:
        raise SettingError(name, "a URL with scheme " + "|".join(f"{s}://" for s in allowed), value)
    if parts.scheme != "sqlite" and not (parts.hostname or parts.path):
        raise SettingError(name, "a URL with a host", value)
    return value


def env_secret(name: str, default: str | None = None, *, environ: dict[str, str] | None = None) -> str | None:
    """Return a secret from ``NAME`` or from the file named by ``NAME_FILE``."""
    file_name = _raw(f"{name}_FILE", environ)
    direct = _raw(name, environ)
    if file_name and direct:
        raise SettingError(f"{name}_FILE", f"to be set alone (both {name} and {name}_FILE are set)", file_name)
    if file_name:
        path = Path(file_name)
        try:
            content = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingError(f"{name}_FILE", f"a readable file ({exc.strerror})", file_name) from None
        if not content:
            raise SettingError(f"{name}_FILE", "a file holding a non-empty secret", file_name)
        return content
    return default if direct is None else direct
