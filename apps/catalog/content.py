"""Resource content: MIME detection, text/binary split and the size limit."""

from __future__ import annotations

import base64
import contextlib
import mimetypes
from urllib.parse import urlsplit

from django.conf import settings

from .errors import InvalidInput, TooLarge

__all__ = ["detect_mime_type", "is_text_mime", "normalise_content"]

_TEXT_APPLICATION = {
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-yaml",
    "application/yaml",
    "application/toml",
    "application/sql",
    "application/graphql",
    "application/ld+json",
}


def is_text_mime(mime_type: str) -> bool:
    """Whether content of this MIME type is text."""
    base = mime_type.split(";")[0].strip().lower()
    return base.startswith("text/") or base in _TEXT_APPLICATION or base.endswith(("+json", "+xml"))


def detect_mime_type(uri: str, data: bytes | str | None) -> str:
    """Guess a MIME type from the URI's extension, then from the content itself."""
    path = urlsplit(uri).path or uri
    guessed, _ = mimetypes.guess_type(path, strict=False)
    if guessed:
        return guessed
    if isinstance(data, str):
        stripped = data.lstrip()
        if stripped.startswith(("{", "[")):
            return "application/json"
        return "text/plain"
    if data:
        if data.startswith(b"\x89PNG"):
            return "image/png"
        if data.startswith(b"\xff\xd8\xff"):
            return "image/jpeg"
        if data.startswith(b"%PDF"):
            return "application/pdf"
        if data.startswith((b"GIF87a", b"GIF89a")):
            return "image/gif"
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return "application/octet-stream"
        return "text/plain"
    return "text/plain"


def normalise_content(
    uri: str, content: str | bytes | None, mime_type: str = "", *, base64_blob: bool = False
) -> tuple[str | None, bytes | None, str, int]:
    """Split content into (text, blob, mime type, size), enforcing RESOURCE_MAX_BYTES.

    ``base64_blob`` says a string is base64 of binary content (the API's ``blob`` form).
    """
    if content is None:
        raise InvalidInput("is required for a local resource", "content")
    if isinstance(content, str) and base64_blob:
        if len(content) > settings.RESOURCE_MAX_BYTES * 4 // 3 + 4:
            raise TooLarge(f"is larger than {settings.RESOURCE_MAX_BYTES} bytes", "content")
        try:
            content = base64.b64decode(content, validate=True)
        except ValueError as exc:
            raise InvalidInput("blob is not valid base64", "content") from exc
    size = len(content.encode("utf-8")) if isinstance(content, str) else len(content)
    if size > settings.RESOURCE_MAX_BYTES:
        raise TooLarge(f"is larger than {settings.RESOURCE_MAX_BYTES} bytes", "content")
    mime = mime_type or detect_mime_type(uri, content)
    if isinstance(content, bytes) and is_text_mime(mime):
        with contextlib.suppress(UnicodeDecodeError):
            content = content.decode("utf-8")
    if isinstance(content, str):
        return content, None, mime, size
    return None, bytes(content), mime, size
