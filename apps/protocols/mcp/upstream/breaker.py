"""A circuit breaker per upstream: closed → open after N consecutive failures → half-open trial."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["CircuitBreaker"]


@dataclass
class CircuitBreaker:
    """Counts consecutive failures; while open, calls are refused without touching the upstream.

    After ``cooldown`` seconds one trial call is let through (half-open): success closes
    the circuit, failure opens it for another cooldown.
    """

    threshold: int
    cooldown: float
    failures: int = 0
    opened_at: float | None = None
    _trial_in_flight: bool = field(default=False, repr=False)

    @property
    def state(self) -> str:
        """closed, open or half-open."""
        if self.opened_at is None:
            return "closed"
        if time.monotonic() - self.opened_at >= self.cooldown:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        """May a call go to the upstream now? (Claims the single half-open trial.)"""
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def retry_after(self) -> float:
        """Seconds until the next trial is allowed (0 when closed)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.cooldown - (time.monotonic() - self.opened_at))

    def record_success(self) -> None:
        """A call reached the upstream and was answered: close the circuit."""
        self.failures = 0
        self.opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        """A call failed to reach the upstream (connection failure or timeout)."""
        self.failures += 1
        self._trial_in_flight = False
        if self.opened_at is not None or self.failures >= self.threshold:
            self.opened_at = time.monotonic()

    def release(self) -> None:
        """A half-open trial ended without a verdict (e.g. caller cancelled)."""
        self._trial_in_flight = False
