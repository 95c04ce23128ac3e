"""DNS-rebinding protection: the Host and Origin of a request must be ones this gateway serves."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host

__all__ = ["origin_allowed"]


def _host_ok(host: str) -> bool:
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def origin_allowed(headers: Mapping[str, str]) -> bool:
    """True when Host names an allowed host and Origin (if any) is allowed.

    Origin passes when it is listed in MCP_ALLOWED_ORIGINS or its host is an allowed
    host; a web page on another site resolving to 127.0.0.1 fails both and gets 403.
    """
    host = headers.get("host")
    if host is not None and not _host_ok(host):
        return False
    origin = headers.get("origin")
    if origin is None or (origin == "null" and not headers.get("host")):
        return True
    if origin in settings.MCP_ALLOWED_ORIGINS:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and _host_ok(parts.netloc)
