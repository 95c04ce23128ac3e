"""Server-side request forgery guard for every URL the gateway fetches on a client's behalf.

Only http/https. Private, loopback, link-local, multicast, reserved and unspecified
addresses are refused unless ``settings.SSRF_ALLOW_PRIVATE_NETWORKS`` (the development
default). Host names are resolved and every address checked; callers must not follow
redirects without checking again.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

__all__ = ["UnsafeURL", "check_url", "check_url_syntax"]

ALLOWED_SCHEMES = ("http", "https")


class UnsafeURL(ValueError):
    """The URL is malformed or points somewhere the gateway must not reach."""


def check_url_syntax(url: str) -> tuple[str, str]:
    """Validate scheme and host without resolving; return (scheme, host)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise UnsafeURL(f"malformed URL: {exc}") from exc
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise UnsafeURL(f"scheme must be http or https, not {parts.scheme or 'empty'!r}")
    if not parts.hostname:
        raise UnsafeURL("URL has no host")
    return parts.scheme.lower(), parts.hostname


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def check_url(url: str, *, resolve: bool = True) -> str:
    """Return the URL when it is safe to fetch, else raise ``UnsafeURL`` naming why."""
    _, host = check_url_syntax(url)
    if settings.SSRF_ALLOW_PRIVATE_NETWORKS:
        return url
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    elif host.lower() in ("localhost",) or host.lower().endswith(".localhost"):
        raise UnsafeURL(f"host {host!r} is a loopback name")
    elif not resolve:
        return url
    else:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except OSError as exc:
            raise UnsafeURL(f"host {host!r} does not resolve") from exc
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for address in addresses:
        if _forbidden(address):
            raise UnsafeURL(f"host {host!r} resolves to a private or reserved address ({address})")
    return url
