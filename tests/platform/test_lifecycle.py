"""The protocol module lifecycle: register → initialize → ready → drain → shutdown."""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest

from apps.protocols.registry import ModuleDescriptor, ModuleDraining, ModuleRegistry, ModuleState, ProtocolModule
from tests.servers import start_gateway


class RecordingModule(ProtocolModule):
    """A module that records its lifecycle calls."""

    descriptor = ModuleDescriptor(id="test", family="test", version="1.0", capabilities={"x": 1})

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail
        self.calls: list[str] = []

    async def on_initialize(self) -> None:
        self.calls.append("initialize")
        if self.fail:
            raise RuntimeError("port already taken")

    async def on_shutdown(self) -> None:
        self.calls.append("shutdown")


async def test_in_flight_work_finishes_during_drain_and_new_work_is_refused():
    module = RecordingModule()
    registry = ModuleRegistry()
    registry.register(module)
    await registry.start()
    assert module.state == ModuleState.READY

    release = asyncio.Event()
    entered = asyncio.Event()
    finished = []

    async def in_flight_request():
        async with module.work():
            entered.set()
            await release.wait()
            finished.append("request")

    request = asyncio.create_task(in_flight_request())
    await entered.wait()
    stopping = asyncio.create_task(registry.stop(drain_seconds=10))
    for _ in range(100):  # let the drain begin
        if module.state == ModuleState.DRAINING:
            break
        await asyncio.sleep(0)
    assert module.state == ModuleState.DRAINING
    with pytest.raises(ModuleDraining):
        async with module.work():
            pass
    assert not stopping.done()
    release.set()
    await request
    await stopping
    assert finished == ["request"]
    assert module.state == ModuleState.STOPPED
    assert module.calls == ["initialize", "shutdown"]
    assert module.stats()["completed"] == 1


async def test_drain_is_bounded():
    module = RecordingModule()
    await module.initialize()
    hold = asyncio.Event()

    async def stuck():
        async with module.work():
            await hold.wait()

    task = asyncio.create_task(stuck())
    await asyncio.sleep(0)
    assert await module.drain(timeout=0.05) is False
    hold.set()
    await task


async def test_failed_initialize_is_reported():
    module = RecordingModule(fail=True)
    await module.initialize()
    assert module.state == ModuleState.FAILED
    assert module.health() == {"state": "failed", "ready": False, "error": "RuntimeError: port already taken"}


def test_duplicate_module_ids_are_refused():
    registry = ModuleRegistry()
    registry.register(RecordingModule())
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(RecordingModule())


def test_report_carries_descriptor_health_and_stats():
    registry = ModuleRegistry()
    registry.register(RecordingModule())
    report = registry.report()["test"]
    assert report["family"] == "test"
    assert report["runtime_mode"] == "embedded"
    assert report["spi_versions"] == ["1.0"]
    assert report["state"] == "registered"
    assert report["stats"]["in_flight"] == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_server_drains_and_stops_cleanly_on_sigterm():
    with start_gateway() as server:
        ready = httpx.get(f"{server.url}/ready", timeout=10)
        assert ready.json()["checks"]["module:mcp"]["state"] == "ready"
        server.signal(signal.SIGTERM)
        # uvicorn re-raises the signal after a graceful shutdown, so -SIGTERM is a clean exit.
        assert server.wait(30) in (0, -signal.SIGTERM)
        log = server.output()
    assert "Application shutdown complete" in log
    assert "module mcp: draining" in log
    assert "module mcp: stopped" in log
