"""Suspended 2026-07-28 tool calls: rounds, ownership, the wait bound and clean-up."""

from __future__ import annotations

import asyncio

import pytest

from apps.protocols.mcp.suspended import Registry, SuspendedCall
from apps.protocols.spi import CatalogError


async def _asks_twice(call: SuspendedCall) -> str:
    first = await call.request_client("roots/list", {})
    second = await call.request_client("elicitation/create", {"message": "name?"})
    return f"{first['roots'][0]['uri']} {second['content']['name']}"


async def test_rounds_resume_the_same_task_and_end_with_its_result() -> None:
    registry = Registry()
    call = registry.start("alice|s1|tool", _asks_twice)
    assert await call.next_round() == {"r1": {"method": "roots/list", "params": {}}}
    assert registry.get(call.state, "alice|s1|tool") is call
    assert registry.get(call.state, "bob|s1|tool") is None
    call.answer({"r1": {"roots": [{"uri": "file:///w"}]}, "unknown": {}})
    assert await call.next_round() == {"r2": {"method": "elicitation/create", "params": {"message": "name?"}}}
    call.answer({"r2": {"action": "accept", "content": {"name": "ada"}}})
    assert await call.next_round() is None
    assert call.task.result() == "file:///w ada"
    registry.finish(call.state)
    assert registry.get(call.state, "alice|s1|tool") is None


async def test_a_bad_answer_fails_the_request_naming_the_key() -> None:
    call = Registry().start("o", _asks_twice)
    await call.next_round()
    call.answer({"r1": "not an object"})
    assert await call.next_round() is None
    with pytest.raises(CatalogError, match=r"inputResponses\.r1"):
        call.task.result()


async def test_an_unanswered_call_times_out_and_is_forgotten(settings) -> None:
    settings.MCP_INPUT_REQUIRED_TIMEOUT = 0.05
    registry = Registry()
    call = registry.start("o", _asks_twice)
    assert await call.next_round() is not None
    assert await call.next_round() is None
    with pytest.raises(CatalogError, match="did not answer roots/list in time"):
        call.task.result()
    await asyncio.sleep(0.1)
    assert registry.get(call.state, "o") is None
