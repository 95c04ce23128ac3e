"""The pool under load and faults: reuse, backpressure, kills, restarts, timeouts, supervision."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from pathlib import Path

import pytest

from apps.protocols.mcp.upstream import MCPUpstreamRuntime
from apps.protocols.mcp.upstream.breaker import CircuitBreaker
from apps.protocols.spi import CallOptions, CatalogError, UpstreamTarget
from tests.servers import free_port

from .conftest import TEST_CONFIG, fixture_server, http_target, stdio_target

pytestmark = pytest.mark.slow


async def _whoami(runtime: MCPUpstreamRuntime, target: UpstreamTarget) -> dict:
    return (await runtime.call_tool(target, "whoami", {}, CallOptions())).structured_content


@pytest.mark.parametrize("kind", ["http", "stdio"])
async def test_one_handshake_serves_many_calls_and_callers(runtime: MCPUpstreamRuntime, http_server, kind: str) -> None:
    target = http_target(http_server, gateway_id="reuse") if kind == "http" else stdio_target(gateway_id="reuse")
    before = (await _whoami(runtime, target))["handshakes"]
    results = await asyncio.gather(*(_whoami(runtime, target) for _ in range(30)))
    for _ in range(10):
        results.append(await _whoami(runtime, target))
    assert {r["handshakes"] for r in results} == {before}
    assert runtime.pool().connection(target).initializations == 1


async def test_100_concurrent_calls_all_answered_within_the_bound(http_server) -> None:
    runtime = MCPUpstreamRuntime(dataclasses.replace(TEST_CONFIG, max_concurrency=4))
    target = http_target(http_server, gateway_id="busy")
    try:
        results = await asyncio.gather(
            *(runtime.call_tool(target, "concurrency_probe", {"seconds": 0.02}, CallOptions()) for _ in range(100))
        )
        assert len(results) == 100 and not any(r.is_error for r in results)
        stats = runtime.stats()["busy"]
        assert stats["peak_in_flight"] == 4
        assert max(r.structured_content["peak"] for r in results) <= 4
        assert stats["in_flight"] == 0 and stats["waiting"] == 0
    finally:
        await runtime.shutdown()


async def test_queue_bound_sheds_load_instead_of_piling_up(http_server) -> None:
    runtime = MCPUpstreamRuntime(dataclasses.replace(TEST_CONFIG, max_concurrency=1, max_queue=2))
    target = http_target(http_server, gateway_id="shed")
    try:
        calls = [runtime.call_tool(target, "slow", {"seconds": 0.3}, CallOptions()) for _ in range(6)]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        refused = [o for o in outcomes if isinstance(o, CatalogError)]
        answered = [o for o in outcomes if not isinstance(o, BaseException)]
        assert refused and all(e.code == "unavailable" and "busy" in e.message for e in refused)
        assert len(answered) + len(refused) == 6 and len(answered) >= 3
    finally:
        await runtime.shutdown()


async def test_killed_upstream_gives_a_clean_error_and_a_restart_works_again(runtime: MCPUpstreamRuntime) -> None:
    port = free_port()
    server = fixture_server("streamable-http", port).start()
    target = http_target(server, gateway_id="killed", timeout=8.0)
    try:
        await _whoami(runtime, target)
        call = asyncio.create_task(runtime.call_tool(target, "slow", {"seconds": 60}, CallOptions()))
        await asyncio.sleep(0.3)
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(5)
        with pytest.raises(CatalogError) as exc:
            await call
        assert exc.value.code in ("unavailable", "timeout") and "fixture-killed" in exc.value.message
        with pytest.raises(CatalogError) as down:
            await runtime.call_tool(target, "echo", {"text": "x"}, CallOptions(timeout=2))
        assert down.value.code in ("unavailable", "timeout")
    finally:
        server.stop()
    with fixture_server("streamable-http", port) as again:
        answer = None
        for _ in range(50):  # the supervisor reconnects with backoff; no gateway restart involved
            try:
                answer = await runtime.call_tool(target, "echo", {"text": "back"}, CallOptions(timeout=3))
                break
            except CatalogError:
                await asyncio.sleep(0.1)
        assert answer is not None and answer.content[0]["text"] == "back"
        assert (await _whoami(runtime, target))["pid"] == again.proc.pid


async def test_slow_upstream_times_out_while_another_is_unaffected(runtime: MCPUpstreamRuntime, http_server) -> None:
    slow = http_target(http_server, gateway_id="slow", timeout=0.5)
    fast = stdio_target(gateway_id="fast")
    await _whoami(runtime, fast)
    slow_call = asyncio.create_task(runtime.call_tool(slow, "slow", {"seconds": 30}, CallOptions()))
    fast_results = await asyncio.gather(
        *(runtime.call_tool(fast, "echo", {"text": str(i)}, CallOptions()) for i in range(10))
    )
    assert [r.content[0]["text"] for r in fast_results] == [str(i) for i in range(10)]
    with pytest.raises(CatalogError) as exc:
        await slow_call
    assert exc.value.code == "timeout" and "fixture-slow" in exc.value.message
    # The timed-out upstream's session is still good for quick calls.
    assert (await runtime.call_tool(slow, "echo", {"text": "ok"}, CallOptions())).content[0]["text"] == "ok"


def _children_state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


async def test_stdio_upstream_is_supervised_restarted_and_reaped() -> None:
    runtime = MCPUpstreamRuntime(TEST_CONFIG)
    target = stdio_target(gateway_id="supervised")
    first = (await _whoami(runtime, target))["pid"]
    with pytest.raises(CatalogError) as exc:
        await runtime.call_tool(target, "crash", {}, CallOptions())
    assert exc.value.code == "unavailable" and "fixture-supervised" in exc.value.message
    second = None
    for _ in range(50):
        try:
            second = (await _whoami(runtime, target))["pid"]
            break
        except CatalogError:
            await asyncio.sleep(0.1)
    assert second is not None and second != first
    assert _children_state(first) is None  # the crashed process was waited for, not left a zombie
    await runtime.shutdown()
    assert _children_state(second) is None  # shutdown terminated and reaped the running one


async def test_idle_sessions_are_reaped_with_a_delete(runtime: MCPUpstreamRuntime) -> None:
    with fixture_server("streamable-http") as server:
        target = http_target(server, gateway_id="idle", protocol_version="2025-11-25")
        await _whoami(runtime, target)
        conn = runtime.pool().connection(target)
        conn.last_used -= TEST_CONFIG.idle_seconds + 1
        await runtime.pool().reap()
        assert conn.closed and runtime.pool().connection(target) is None
        assert "DELETE /mcp" in server.output()
        assert (await _whoami(runtime, target))["handshakes"] == 2  # a fresh session on next use


async def test_quiet_sessions_are_pinged_and_a_dead_one_is_noticed(runtime: MCPUpstreamRuntime) -> None:
    server = fixture_server("streamable-http").start()
    try:
        target = http_target(server, gateway_id="quiet", protocol_version="2025-11-25")
        await _whoami(runtime, target)
        conn = runtime.pool().connection(target)
        pinged = conn.last_ping
        conn.last_used -= TEST_CONFIG.keepalive_seconds + 1
        conn.last_ping -= TEST_CONFIG.keepalive_seconds + 1
        await runtime.pool().reap()
        assert conn.last_ping > pinged and conn.state == "ready"  # keep-alive ping answered
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(5)
        conn.last_used -= TEST_CONFIG.keepalive_seconds + 1
        conn.last_ping -= TEST_CONFIG.keepalive_seconds + 1
        await runtime.pool().reap()
        assert conn.error is not None  # the failed ping marked the session lost: it is being reopened
    finally:
        server.stop()


async def test_circuit_opens_after_repeated_connection_failures() -> None:
    runtime = MCPUpstreamRuntime(dataclasses.replace(TEST_CONFIG, breaker_threshold=2, breaker_cooldown=60))
    target = UpstreamTarget(
        gateway_id="dead", name="dead-upstream", transport="STREAMABLEHTTP", url=f"http://127.0.0.1:{free_port()}/mcp"
    )
    try:
        for _ in range(2):
            with pytest.raises(CatalogError, match="unreachable"):
                await runtime.call_tool(target, "echo", {"text": "x"}, CallOptions())
        with pytest.raises(CatalogError, match="circuit open") as exc:
            await runtime.call_tool(target, "echo", {"text": "x"}, CallOptions())
        assert exc.value.code == "unavailable" and "dead-upstream" in exc.value.message
    finally:
        await runtime.shutdown()


def test_breaker_half_open_allows_one_trial() -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=0.0)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "half-open"
    assert breaker.allow() and not breaker.allow()  # one trial at a time
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow()


async def test_forwarded_headers_get_their_own_sessions_and_the_count_stays_bounded(http_server) -> None:
    runtime = MCPUpstreamRuntime(dataclasses.replace(TEST_CONFIG, max_sessions=2))
    base = http_target(http_server, gateway_id="tenants")

    def tenant(name: str) -> UpstreamTarget:
        return dataclasses.replace(base, headers={"X-Tenant-Id": name})

    def sessions() -> list[dict]:
        return runtime.pool().stats()["tenants"]["sessions"]

    try:
        for name in ("t0", "t1", "t2", "t3", "t1"):
            seen = await runtime.call_tool(tenant(name), "show_meta", {}, CallOptions())
            assert seen.structured_content["headers"]["x-tenant-id"] == name  # its own session, its own value
            assert len(sessions()) <= 2
        assert len(runtime.pool()._connect_locks) <= 2  # closed scopes leave no bookkeeping behind

        # Every session busy: a new scope is refused rather than opening a third.
        busy = [
            asyncio.create_task(runtime.call_tool(tenant(n), "slow", {"seconds": 1.5}, CallOptions()))
            for n in ("t1", "t3")
        ]
        async with asyncio.timeout(10):
            while sum(s["in_flight"] for s in sessions()) < 2:
                await asyncio.sleep(0.02)
        with pytest.raises(CatalogError) as refused:
            await runtime.call_tool(tenant("t9"), "echo", {"text": "x"}, CallOptions())
        assert refused.value.code == "unavailable" and "sessions in use" in refused.value.message
        await asyncio.gather(*busy)
        seen = await runtime.call_tool(tenant("t9"), "show_meta", {}, CallOptions())
        assert seen.structured_content["headers"]["x-tenant-id"] == "t9" and len(sessions()) == 2
    finally:
        await runtime.shutdown()
