"""The protocol module registry and lifecycle.

Each module has a descriptor and moves through register → initialize → ready → drain
→ shutdown. The ASGI lifespan drives the lifecycle; drain refuses new work and waits,
within a bound, for in-flight work to finish. The registry is fixed at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.utils.module_loading import import_string

from .spi import SPI_VERSION

logger = logging.getLogger(__name__)

__all__ = [
    "ModuleDescriptor",
    "ModuleDraining",
    "ModuleRegistry",
    "ModuleState",
    "ProtocolModule",
    "registry",
]


class ModuleState(enum.StrEnum):
    """Where a module is in its lifecycle."""

    REGISTERED = "registered"
    INITIALIZING = "initializing"
    READY = "ready"
    DRAINING = "draining"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True)
class ModuleDescriptor:
    """What a module is: identity, protocol family, versions and capabilities."""

    id: str
    family: str
    version: str
    language: str = "python"
    spi_versions: tuple[str, ...] = (SPI_VERSION,)
    runtime_mode: str = "embedded"  # embedded | sidecar
    capabilities: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form for health and admin pages."""
        data = asdict(self)
        data["spi_versions"] = list(self.spi_versions)
        return data


class ModuleDraining(RuntimeError):
    """Raised when new work is offered to a module that is draining or stopped."""


class ProtocolModule:
    """Base class for a protocol module: lifecycle, in-flight tracking, health and stats.

    Subclasses set ``descriptor`` and override ``on_initialize``/``on_shutdown``.
    Transports wrap each unit of work in ``async with module.work():`` so drain can wait.
    """

    descriptor: ModuleDescriptor

    def __init__(self) -> None:
        self.state = ModuleState.REGISTERED
        self.error: str | None = None
        self.in_flight = 0
        self.completed = 0
        self.started_at: float | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    async def on_initialize(self) -> None:
        """Open whatever the module needs (pools, listeners). Default: nothing."""

    async def on_shutdown(self) -> None:
        """Release what on_initialize opened. Default: nothing."""

    async def initialize(self) -> None:
        """Move to READY, or FAILED with the error recorded."""
        self.state = ModuleState.INITIALIZING
        try:
            await self.on_initialize()
        except Exception as exc:
            self.state = ModuleState.FAILED
            self.error = f"{type(exc).__name__}: {exc}"
            logger.exception("module %s failed to initialize", self.descriptor.id)
            return
        self.started_at = time.time()
        self.state = ModuleState.READY
        logger.info("module %s: ready", self.descriptor.id)

    def accepting(self) -> bool:
        """True while the module takes new work."""
        return self.state in (ModuleState.READY, ModuleState.REGISTERED, ModuleState.INITIALIZING)

    @contextlib.asynccontextmanager
    async def work(self) -> AsyncIterator[None]:
        """Track one unit of in-flight work; refuse it when draining or stopped."""
        if not self.accepting():
            raise ModuleDraining(f"module {self.descriptor.id} is {self.state}")
        self.in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.in_flight -= 1
            self.completed += 1
            if self.in_flight == 0:
                self._idle.set()

    async def drain(self, timeout: float) -> bool:
        """Stop taking new work and wait up to ``timeout`` seconds for in-flight work.

        Returns True when all in-flight work finished in time.
        """
        if self.state in (ModuleState.STOPPED, ModuleState.FAILED):
            return True
        self.state = ModuleState.DRAINING
        logger.info("module %s: draining (%d in flight)", self.descriptor.id, self.in_flight)
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            logger.warning(
                "module %s: %d requests still in flight after %.1fs", self.descriptor.id, self.in_flight, timeout
            )
            return False

    async def shutdown(self) -> None:
        """Release resources and move to STOPPED."""
        if self.state == ModuleState.STOPPED:
            return
        try:
            await self.on_shutdown()
        finally:
            self.state = ModuleState.STOPPED
            logger.info("module %s: stopped", self.descriptor.id)

    def health(self) -> dict[str, Any]:
        """Readiness and liveness for /ready and the admin."""
        return {"state": str(self.state), "ready": self.state == ModuleState.READY, "error": self.error}

    def stats(self) -> dict[str, Any]:
        """Counters for the admin and metrics."""
        return {"in_flight": self.in_flight, "completed": self.completed, "started_at": self.started_at}


class ModuleRegistry:
    """The set of protocol modules of this process, fixed at start-up."""

    def __init__(self) -> None:
        self._modules: dict[str, ProtocolModule] = {}
        self._loaded = False

    def load(self, dotted_paths: Iterable[str]) -> None:
        """Instantiate and register the modules named by dotted class paths (once)."""
        if self._loaded:
            return
        for path in dotted_paths:
            self.register(import_string(path)())
        self._loaded = True

    def register(self, module: ProtocolModule) -> None:
        """Add a module; its id must be unique."""
        module_id = module.descriptor.id
        if module_id in self._modules:
            raise ValueError(f"protocol module {module_id!r} is registered twice")
        self._modules[module_id] = module

    def get(self, module_id: str) -> ProtocolModule:
        """Return the module with this id (KeyError if absent)."""
        return self._modules[module_id]

    def all(self) -> list[ProtocolModule]:
        """All registered modules, in registration order."""
        return list(self._modules.values())

    def by_family(self, family: str) -> list[ProtocolModule]:
        """The modules serving one protocol family."""
        return [m for m in self._modules.values() if m.descriptor.family == family]

    async def start(self) -> None:
        """Initialize every module that is not already ready."""
        for module in self._modules.values():
            if module.state in (ModuleState.REGISTERED, ModuleState.STOPPED):
                await module.initialize()

    async def stop(self, drain_seconds: float) -> None:
        """Drain every module in parallel within ``drain_seconds``, then shut them down."""
        modules = self.all()
        await asyncio.gather(*(m.drain(drain_seconds) for m in modules))
        for module in reversed(modules):
            await module.shutdown()

    def report(self) -> dict[str, dict[str, Any]]:
        """Descriptor, health and stats of every module."""
        return {
            m.descriptor.id: {**m.descriptor.as_dict(), **m.health(), "stats": m.stats()}
            for m in self._modules.values()
        }


registry = ModuleRegistry()
