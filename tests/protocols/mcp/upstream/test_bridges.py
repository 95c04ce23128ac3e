"""The bridges as real processes: translate (stdio → HTTP) and mcp_wrapper (HTTP → stdio)."""

from __future__ import annotations

import asyncio
import contextlib
import sys

import mcp_types as types
import pytest
from mcp.client import Client
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters

from tests.servers import ROOT, ServerProcess, free_port, gateway_env

from .conftest import FIXTURE_MODULE

pytestmark = pytest.mark.slow


async def _sampling(context, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text="sampled"), model="test-model"
    )


def _text(result: types.CallToolResult) -> str:
    return result.content[0].text


@pytest.fixture(scope="module")
def translated() -> ServerProcess:
    """``manage.py translate`` in front of the stdio fixture, both HTTP transports exposed."""
    port = free_port()
    argv = [
        sys.executable,
        "manage.py",
        "translate",
        "--stdio",
        f"{sys.executable} -m {FIXTURE_MODULE}",
        "--port",
        str(port),
        "--expose-sse",
        "--expose-streamable-http",
        "--name",
        "fixture",
    ]
    with ServerProcess(argv, port=port, env=gateway_env()) as server:
        yield server


async def test_translate_serves_a_stdio_server_over_streamable_http(translated: ServerProcess) -> None:
    async with Client(f"{translated.url}/mcp", sampling_callback=_sampling, mode="legacy") as client:
        tools = await client.list_tools()
        assert "test_simple_text" in {t.name for t in tools.tools}
        assert _text(await client.call_tool("test_simple_text", {})) == "This is a simple text response for testing."
        progress: list[float] = []

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append(value)

        await client.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
        assert progress == [0, 50, 100]
        assert _text(await client.call_tool("test_sampling", {"prompt": "hi"})) == "LLM response: sampled"
        resource = await client.read_resource("test://static-text")
        assert resource.contents[0].text == "This is the content of the static text resource."
        prompt = await client.get_prompt("test_simple_prompt")
        assert prompt.messages[0].content.text == "This is a simple prompt for testing."
        first = (await client.call_tool("whoami", {})).structured_content

    async with Client(f"{translated.url}/mcp") as other:
        second = (await other.call_tool("whoami", {})).structured_content
    assert second["pid"] == first["pid"]  # one supervised stdio process behind every client


async def test_translate_passes_resource_updates_on(translated: ServerProcess) -> None:
    updates: list[str] = []
    heard = asyncio.Event()

    async def on_message(message) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updates.append(str(message.params.uri))
            heard.set()

    async with Client(f"{translated.url}/mcp", mode="legacy", message_handler=on_message) as client:
        await client.session.subscribe_resource("test://watched-resource")
        async with asyncio.timeout(15):
            while not heard.is_set():  # the upstream's listen stream is acknowledged asynchronously
                await client.call_tool("touch_resource", {"uri": "test://watched-resource"})
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.3):
                        await heard.wait()
    assert updates[0] == "test://watched-resource"


async def test_translate_serves_over_sse(translated: ServerProcess) -> None:
    async with Client(sse_client(f"{translated.url}/sse"), mode="legacy", sampling_callback=_sampling) as client:
        assert _text(await client.call_tool("echo", {"text": "over sse"})) == "over sse"
        assert _text(await client.call_tool("test_sampling", {"prompt": "hi"})) == "LLM response: sampled"


async def test_mcp_wrapper_forwards_stdio_to_a_remote_endpoint() -> None:
    port = free_port()
    remote = ServerProcess(
        [sys.executable, "-m", FIXTURE_MODULE, "--transport", "streamable-http", "--port", str(port)], port=port
    )
    with remote:
        params = StdioServerParameters(
            command=sys.executable,
            args=["manage.py", "mcp_wrapper", "--url", f"{remote.url}/mcp", "--token", "secret-token"],
            env=gateway_env(),
            cwd=str(ROOT),
        )
        async with Client(params, mode="legacy", sampling_callback=_sampling) as client:
            assert "echo" in {t.name for t in (await client.list_tools()).tools}
            seen = (await client.call_tool("show_meta", {})).structured_content
            assert seen["headers"]["authorization"] == "Bearer secret-token"
            assert _text(await client.call_tool("test_sampling", {"prompt": "hi"})) == "LLM response: sampled"
            ref = types.PromptReference(type="ref/prompt", name="test_prompt_with_arguments")
            completion = await client.complete(ref, {"name": "arg1", "value": "pa"})
            assert completion.completion.values == ["paris", "park", "party"]
