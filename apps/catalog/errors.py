"""Errors raised by catalog services; the API maps them to HTTP statuses, modules to CatalogError."""

from __future__ import annotations

__all__ = ["Conflict", "Forbidden", "InvalidInput", "NotFound", "ServiceError", "TooLarge", "Unavailable"]


class ServiceError(Exception):
    """Base of catalog service errors; ``errors`` maps field names to messages."""

    status = 400

    def __init__(self, errors: dict[str, str] | str, field: str | None = None) -> None:
        if isinstance(errors, str):
            errors = {field or "detail": errors}
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


class InvalidInput(ServiceError):
    """Bad input: the message names the field (HTTP 400)."""


class Conflict(ServiceError):
    """A name already taken in the team, or a collision of exposed names (HTTP 409)."""

    status = 409


class TooLarge(ServiceError):
    """Content above the configured size limit (HTTP 413)."""

    status = 413


class NotFound(ServiceError):
    """Missing, or invisible to the caller: the two look the same (HTTP 404)."""

    status = 404


class Forbidden(ServiceError):
    """The caller can see the object but may not do this to it (HTTP 403)."""

    status = 403


class Unavailable(ServiceError):
    """An upstream or runtime needed for the operation is not available (HTTP 503)."""

    status = 503
