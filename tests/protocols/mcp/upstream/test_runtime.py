"""The upstream runtime against the conformance fixture, over every transport."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from apps.protocols.mcp.upstream import MCPUpstreamRuntime
from apps.protocols.mcp.upstream.relay import HOPS_META_KEY
from apps.protocols.spi import CallOptions, CatalogError, InvocationRuntime, UpstreamTarget
from tests.servers import free_port

from .conftest import http_target, sse_target, stdio_target, ws_target

pytestmark = pytest.mark.slow


@pytest.fixture(
    params=["http", "sse", "ws", "stdio", "http-2025-11-25", "sse-2025-11-25", "ws-2025-11-25", "stdio-2025-11-25"]
)
def target(request, http_server, sse_server, ws_server) -> UpstreamTarget:
    """The fixture reached over each transport, negotiated (2026-07-28) or pinned to an older revision."""
    kind, _, pinned = request.param.partition("-")
    extra = {"protocol_version": pinned} if pinned else {}
    if kind == "http":
        return http_target(http_server, **extra)
    if kind == "sse":
        return sse_target(sse_server, **extra)
    if kind == "ws":
        return ws_target(ws_server, **extra)
    return stdio_target(**extra)


def _text(result) -> str:
    return " ".join(c.get("text", "") for c in result.content if c.get("type") == "text")


async def _client(method: str, params: dict[str, Any]) -> dict[str, Any]:
    if method == "sampling/createMessage":
        prompt = params["messages"][0]["content"]["text"]
        return {"role": "assistant", "content": {"type": "text", "text": f"echo of {prompt}"}, "model": "test-model"}
    if method == "elicitation/create":
        return {"action": "accept", "content": {"username": "ada", "email": "ada@example.com"}}
    if method == "roots/list":
        return {"roots": [{"uri": "file:///tmp", "name": "tmp"}]}
    raise AssertionError(method)


def test_runtime_implements_the_spi() -> None:
    assert isinstance(MCPUpstreamRuntime(), InvocationRuntime)


async def test_discover_lists_everything(runtime: MCPUpstreamRuntime, target: UpstreamTarget) -> None:
    found = await runtime.discover(target)
    names = {t.name for t in found.tools}
    assert {"test_simple_text", "test_sampling", "json_schema_2020_12_tool"} <= names
    assert {r.uri for r in found.resources} >= {"test://static-text", "test://static-binary"}
    assert [t.uri_template for t in found.resource_templates] == ["test://template/{id}/data"]
    assert {p.name for p in found.prompts} >= {"test_simple_prompt", "test_prompt_with_arguments"}
    schema = next(t for t in found.tools if t.name == "json_schema_2020_12_tool").input_schema
    assert schema["$defs"]["address"]["type"] == "object" and schema["additionalProperties"] is False
    assert found.server_info["name"] == "conformance-fixture"
    assert found.protocol_version == (target.protocol_version or "2026-07-28")


async def test_tools_resources_prompts_completion(runtime: MCPUpstreamRuntime, target: UpstreamTarget) -> None:
    result = await runtime.call_tool(target, "test_simple_text", {}, CallOptions())
    assert _text(result) == "This is a simple text response for testing."
    error = await runtime.call_tool(target, "test_error_handling", {}, CallOptions())
    assert error.is_error and "intentionally" in _text(error)
    image = await runtime.call_tool(target, "test_image_content", {}, CallOptions())
    assert image.content[0]["type"] == "image" and image.content[0]["mimeType"] == "image/png"

    text = await runtime.read_resource(target, "test://static-text", CallOptions())
    assert text[0].text == "This is the content of the static text resource."
    binary = await runtime.read_resource(target, "test://static-binary", CallOptions())
    assert binary[0].blob and binary[0].mime_type == "image/png"
    templated = await runtime.read_resource(target, "test://template/123/data", CallOptions())
    assert '"id": "123"' in templated[0].text

    prompt = await runtime.get_prompt(target, "test_prompt_with_arguments", {"arg1": "a", "arg2": "b"}, CallOptions())
    assert prompt.messages[0]["content"]["text"] == "Prompt with arguments: arg1='a', arg2='b'"
    completion = await runtime.complete(
        target, {"type": "ref/prompt", "name": "test_prompt_with_arguments"}, {"name": "arg1", "value": "par"}
    )
    assert completion["values"] == ["paris", "park", "party"]
    assert (await runtime.ping(target))["protocol_version"] == (target.protocol_version or "2026-07-28")


async def test_relay_progress_logging_sampling_elicitation(runtime: MCPUpstreamRuntime, target: UpstreamTarget) -> None:
    progress: list[tuple[float, float | None]] = []
    logs: list[tuple[str, Any]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total))

    async def on_log(level: str, data: Any, logger: str | None) -> None:
        logs.append((level, data))

    await runtime.call_tool(target, "test_tool_with_progress", {}, CallOptions(on_progress=on_progress))
    assert progress == [(0, 100), (50, 100), (100, 100)]
    await runtime.call_tool(target, "test_tool_with_logging", {}, CallOptions(on_log=on_log))
    assert [d for _, d in logs] == ["Tool execution started", "Tool processing data", "Tool execution completed"]

    options = CallOptions(request_client=_client, client_capabilities={"sampling": {}, "elicitation": {}})
    sampled = await runtime.call_tool(target, "test_sampling", {"prompt": "hello"}, options)
    assert _text(sampled) == "LLM response: echo of hello"
    elicited = await runtime.call_tool(target, "test_elicitation", {"message": "who?"}, options)
    assert _text(elicited) == 'User response: action=accept, content={"username": "ada", "email": "ada@example.com"}'


async def _failure_text(runtime: MCPUpstreamRuntime, target: UpstreamTarget, options: CallOptions) -> str:
    """The error a sampling call ends with: a CatalogError, or a tool error reported by the upstream."""
    try:
        result = await runtime.call_tool(target, "test_sampling", {"prompt": "x"}, options)
    except CatalogError as exc:
        return exc.message
    assert result.is_error
    return _text(result)


@pytest.mark.parametrize("pinned", [None, "2025-11-25"])
async def test_upstream_request_without_a_capable_client_fails_cleanly(
    runtime: MCPUpstreamRuntime, http_server, pinned: str | None
) -> None:
    target = http_target(http_server, protocol_version=pinned)
    assert "sampling" in await _failure_text(runtime, target, CallOptions())
    options = CallOptions(request_client=_client, client_capabilities={"roots": {}})
    assert "does not support sampling" in await _failure_text(runtime, target, options)


async def test_hop_marker_is_forwarded_and_loops_are_refused(runtime: MCPUpstreamRuntime, http_server) -> None:
    target = http_target(http_server)
    seen = await runtime.call_tool(target, "show_meta", {}, CallOptions(meta={HOPS_META_KEY: ["peer-a"]}))
    assert seen.structured_content["meta"][HOPS_META_KEY] == ["peer-a", "test-gateway"]
    assert seen.structured_content["headers"].get("x-contextforge-via") == "test-gateway"
    with pytest.raises(CatalogError) as loop:
        await runtime.call_tool(target, "echo", {"text": "x"}, CallOptions(meta={HOPS_META_KEY: ["test-gateway"]}))
    assert loop.value.code == "loop" and "federation loop" in loop.value.message and target.name in loop.value.message
    with pytest.raises(CatalogError) as too_far:
        await runtime.call_tool(target, "echo", {"text": "x"}, CallOptions(meta={HOPS_META_KEY: list("abcd")}))
    assert too_far.value.code == "loop" and "hops" in too_far.value.message


async def test_unreachable_and_non_mcp_urls_fail_clearly(runtime: MCPUpstreamRuntime, http_server) -> None:
    nowhere = UpstreamTarget(
        gateway_id="gone", name="gone", transport="STREAMABLEHTTP", url=f"http://127.0.0.1:{free_port()}/mcp"
    )
    with pytest.raises(CatalogError) as exc:
        await runtime.discover(nowhere)
    assert exc.value.code == "unavailable" and "gone" in exc.value.message
    not_mcp = UpstreamTarget(
        gateway_id="web", name="plain-web", transport="STREAMABLEHTTP", url=f"{http_server.url}/health"
    )
    with pytest.raises(CatalogError) as exc:
        await runtime.discover(not_mcp)
    assert "plain-web" in exc.value.message
    assert runtime.pool().connection(not_mcp) is None


@pytest.mark.parametrize("pinned", [None, "2025-11-25"])
async def test_list_changed_and_resource_updates_reach_listeners(
    runtime: MCPUpstreamRuntime, pinned: str | None
) -> None:
    target = stdio_target(gateway_id="events", protocol_version=pinned)
    events: list[tuple[str, str, dict]] = []
    changed = asyncio.Event()

    def listener(gateway_id: str, method: str, params: dict) -> None:
        events.append((gateway_id, method, params))
        changed.set()

    async def until_heard(tool: str, arguments: dict, method: str) -> None:
        # A listen stream (2026-07-28) is acknowledged asynchronously: repeat until the event is heard.
        async with asyncio.timeout(10):
            while method not in [m for _, m, _ in events]:
                changed.clear()
                await runtime.call_tool(target, tool, arguments, CallOptions())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.2):
                        await changed.wait()

    runtime.add_listener(listener)
    await runtime.subscribe_resource(target, "test://watched-resource")
    await until_heard("touch_resource", {"uri": "test://watched-resource"}, "notifications/resources/updated")
    await until_heard("add_tool", {"name": "fresh_tool"}, "notifications/tools/list_changed")
    assert ("events", "notifications/resources/updated", {"uri": "test://watched-resource"}) in events
    assert "fresh_tool" in {t.name for t in (await runtime.discover(target)).tools}
