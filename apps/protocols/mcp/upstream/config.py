"""Tunables of the upstream pool, read once from settings (or given directly in tests)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["PoolConfig"]


@dataclass(frozen=True)
class PoolConfig:
    """Limits and timings of the upstream pool; every value is a bound, in seconds or counts."""

    call_timeout: float = 60.0
    connect_timeout: float = 15.0
    max_concurrency: int = 32
    max_queue: int = 1000
    idle_seconds: float = 300.0
    keepalive_seconds: float = 60.0
    breaker_threshold: int = 5
    breaker_cooldown: float = 30.0
    connect_retries: int = 2
    retry_backoff: float = 0.2
    restart_backoff_max: float = 30.0
    max_hops: int = 4
    max_sessions: int = 64
    max_pages: int = 1000
    instance_id: str = "contextforge"
    #: tools/call on pooled streamable-HTTP sessions as one plain POST (direct.py) when it behaves the same.
    lean_calls: bool = True
    #: Largest response body the lean path reads.
    max_response_bytes: int = 16 * 1024 * 1024

    @classmethod
    def from_settings(cls) -> PoolConfig:
        """The pool configuration of this deployment (settings.MCP_UPSTREAM_*)."""
        from django.conf import settings

        # Every worker of one deployment shares SECRET_KEY, so they share the hop marker
        # that lets a peer gateway (or this one, reached in a loop) recognise us.
        instance = hashlib.sha256(f"contextforge-instance:{settings.SECRET_KEY}".encode()).hexdigest()[:16]
        return cls(
            call_timeout=float(settings.MCP_UPSTREAM_TIMEOUT),
            connect_timeout=float(settings.MCP_UPSTREAM_CONNECT_TIMEOUT),
            max_concurrency=settings.MCP_UPSTREAM_MAX_CONCURRENCY,
            max_queue=settings.MCP_UPSTREAM_MAX_QUEUE,
            idle_seconds=float(settings.MCP_UPSTREAM_IDLE_SECONDS),
            keepalive_seconds=float(settings.MCP_UPSTREAM_KEEPALIVE_SECONDS),
            breaker_threshold=settings.MCP_UPSTREAM_BREAKER_THRESHOLD,
            breaker_cooldown=float(settings.MCP_UPSTREAM_BREAKER_COOLDOWN),
            max_hops=settings.MCP_FEDERATION_MAX_HOPS,
            max_sessions=settings.MCP_UPSTREAM_MAX_SESSIONS,
            instance_id=instance,
            lean_calls=settings.MCP_UPSTREAM_LEAN_CALLS,
            max_response_bytes=settings.MCP_UPSTREAM_MAX_RESPONSE_BYTES,
        )
