"""Header passthrough: which of a caller's request headers reach a gateway's upstream.

ContextForge's semantics. A caller's header is forwarded to an upstream MCP gateway only when

- ``ENABLE_HEADER_PASSTHROUGH`` is on (off by default), and
- its name is on the gateway's ``passthrough_headers`` allow list (case-insensitive), or on
  ``PASSTHROUGH_HEADERS_DEFAULT`` when the gateway's list is empty, and
- it is not one of the headers that are never forwarded (hop-by-hop headers, Host,
  Content-Length, Cookie, the MCP session and revision headers, the federation hop marker),
  and
- the gateway's own credentials do not set it: a gateway credential always wins, and the
  caller's ``Authorization`` is forwarded only to a gateway with no auth of its own.

Values longer than ``MAX_VALUE_BYTES``, or other than visible ASCII, are dropped. Only
gateways over HTTP transports get forwarded headers (a stdio process has none); REST tools
and A2A agents exposed as tools do not (as in ContextForge, passthrough is a gateway feature).
Transports capture the caller's headers (``CallOptions.headers``); the policy is here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.protocols.spi import UpstreamTarget

from .errors import InvalidInput
from .validation import HEADER_NAME_RE

logger = logging.getLogger(__name__)

__all__ = [
    "HOP_BY_HOP",
    "MAX_NAMES",
    "MAX_VALUE_BYTES",
    "NEVER_FORWARDED",
    "Policy",
    "check_default_list",
    "clean_allow_list",
    "forward",
    "policy_for",
]

#: RFC 9110 §7.6.1 connection-specific headers (and the proxy ones): they describe one hop.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
#: Headers that are never forwarded, whatever an allow list says (lowercase), with the reason.
NEVER_FORWARDED: dict[str, str] = {
    **dict.fromkeys(HOP_BY_HOP, "is a hop-by-hop header"),
    "host": "names the gateway, not the upstream",
    "content-length": "describes the caller's body, not the upstream request",
    "cookie": "carries the caller's browser session with the gateway",
    "mcp-session-id": "names the caller's session with the gateway",
    "mcp-protocol-version": "is negotiated per connection by the gateway",
    "x-contextforge-via": "is the gateway's own federation hop marker",
}
#: Largest forwarded value (bytes); longer values are dropped, not cut.
MAX_VALUE_BYTES = 4096
#: Most names one allow list may hold.
MAX_NAMES = 64
AUTHORIZATION = "authorization"


def _check_names(names: Iterable[Any], what: str) -> list[str]:
    """Header names, deduplicated case-insensitively (first spelling kept); ValueError naming a bad one."""
    clean: list[str] = []
    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str) or not HEADER_NAME_RE.match(name.strip()):
            raise ValueError(f"{name!r} is not a valid header name")
        name = name.strip()
        lower = name.lower()
        if lower in NEVER_FORWARDED:
            raise ValueError(f"{name!r} {NEVER_FORWARDED[lower]} and is never forwarded")
        if lower not in seen:
            seen.add(lower)
            clean.append(name)
    if len(clean) > MAX_NAMES:
        raise ValueError(f"{what} has more than {MAX_NAMES} header names")
    return clean


def clean_allow_list(field: str, value: Any) -> list[str]:
    """A gateway's passthrough allow list: header names only; refuses names never forwarded."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput("must be a list of header names", field)
    try:
        return _check_names(value, "the list")
    except ValueError as exc:
        raise InvalidInput(str(exc), field) from None


def check_default_list() -> None:
    """Refuse a bad ``PASSTHROUGH_HEADERS_DEFAULT`` at start-up, naming the variable and the header."""
    try:
        _check_names(settings.PASSTHROUGH_HEADERS_DEFAULT, "PASSTHROUGH_HEADERS_DEFAULT")
    except ValueError as exc:
        raise ImproperlyConfigured(f"configuration error: PASSTHROUGH_HEADERS_DEFAULT: {exc}") from None


@dataclass(frozen=True)
class Policy:
    """What passthrough needs to know about one gateway (memoised with the call plan)."""

    gateway_id: str
    gateway_name: str
    #: The gateway's allow list as configured (empty: the deployment's default list applies).
    allowed: tuple[str, ...]
    #: The gateway authenticates itself upstream (any auth type but none).
    own_auth: bool


def policy_for(gateway: Any) -> Policy | None:
    """The passthrough policy of a gateway; None when its transport carries no HTTP headers."""
    if gateway.transport == "STDIO":
        return None
    return Policy(
        gateway_id=str(gateway.pk),
        gateway_name=gateway.name,
        allowed=tuple(gateway.passthrough_headers or ()),
        own_auth=(gateway.auth_type or "none") != "none",
    )


_warned: set[tuple[str, str]] = set()


def _conflict(policy: Policy, name: str) -> None:
    """Warn (once per gateway and header in this process) that a gateway credential won."""
    key = (policy.gateway_id, name.lower())
    if key in _warned:
        return
    if len(_warned) < 4096:
        _warned.add(key)
    logger.warning(
        "header passthrough: not forwarding the caller's %s to upstream %s: the gateway's own credentials set it",
        name,
        policy.gateway_name,
    )


def _acceptable(value: str) -> bool:
    """Short enough, and visible ASCII, spaces and tabs only (HTTP clients refuse anything else)."""
    return len(value) <= MAX_VALUE_BYTES and value.isascii() and value.replace("\t", " ").isprintable()


def forward(target: UpstreamTarget, policy: Policy | None, caller_headers: Mapping[str, str] | None) -> UpstreamTarget:
    """The target with the caller's allowed headers added (the gateway's own headers win).

    ``caller_headers`` has lowercase names, as transports capture them. Returns ``target``
    itself when nothing is forwarded, so the pooled session of the gateway's own
    credential scope is used; forwarded values make their own scope (see the pool).
    """
    if not caller_headers or policy is None or not settings.ENABLE_HEADER_PASSTHROUGH:
        return target
    names = policy.allowed or settings.PASSTHROUGH_HEADERS_DEFAULT
    if not names:
        return target
    own = {key.lower() for key in target.headers}
    forwarded: dict[str, str] = {}
    for name in names:
        lower = name.lower()
        value = caller_headers.get(lower)
        if value is None or lower in NEVER_FORWARDED:
            continue
        if lower in own or (lower == AUTHORIZATION and policy.own_auth):
            _conflict(policy, name)
            continue
        if not _acceptable(value):
            logger.info(
                "header passthrough: dropped the caller's %s for %s (too long or not ASCII)", name, policy.gateway_name
            )
            continue
        forwarded[name] = value
    if not forwarded:
        return target
    return replace(target, headers={**forwarded, **target.headers})
