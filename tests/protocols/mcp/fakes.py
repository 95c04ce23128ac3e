"""A test double of the core SPI for dispatcher unit tests (never used outside tests).

FakeCatalog implements the CatalogService Protocol over fixed in-memory data, with one
tool that reports progress and logs, one that fails, and one that waits until cancelled.
"""

from __future__ import annotations

import asyncio
from typing import Any

from apps.protocols.embedded.config import EmbeddedConfigService
from apps.protocols.embedded.sessions import EmbeddedSessionService
from apps.protocols.spi import (
    CallOptions,
    CatalogError,
    CoreServices,
    Credentials,
    Principal,
    PromptArgumentSpec,
    PromptResult,
    PromptSpec,
    ResourceContents,
    ResourceSpec,
    ResourceTemplateSpec,
    ServerSpec,
    ToolResult,
    ToolSpec,
)

ECHO_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string"}},
    "required": ["text"],
    "additionalProperties": False,
}


class FakeCatalog:
    """Fixed catalog: servers "s1" and "s2", tools echo/slow/fails/progress, a resource, a prompt."""

    def __init__(self, tool_count: int = 0) -> None:
        self.tools = [
            ToolSpec(id="1", name="echo", description="Echo text", input_schema=ECHO_SCHEMA, title="Echo"),
            ToolSpec(id="2", name="fails", description="Always fails"),
            ToolSpec(id="3", name="slow", description="Waits until cancelled"),
            ToolSpec(id="4", name="progress", description="Reports progress and logs"),
            ToolSpec(id="5", name="ask", description="Asks the client to sample a message"),
        ] + [ToolSpec(id=f"x{i}", name=f"extra_{i:03d}") for i in range(tool_count)]
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()

    async def get_server(self, context: Principal, server_id: str) -> ServerSpec:
        if server_id not in ("s1", "s2"):
            raise CatalogError("not_found", f"Unknown server: {server_id}")
        return ServerSpec(id=server_id, name=f"Server {server_id}")

    async def list_tools(self, context: Principal, server_id: str | None = None) -> list[ToolSpec]:
        return list(self.tools)

    async def call_tool(
        self, context: Principal, name: str, arguments: dict[str, Any], *, server_id: str | None, options: CallOptions
    ) -> ToolResult:
        if name == "echo":
            if set(arguments) != {"text"} or not isinstance(arguments["text"], str):
                raise CatalogError("invalid_arguments", "arguments.text must be a string")
            return ToolResult(content=[{"type": "text", "text": arguments["text"]}], structured_content=arguments)
        if name == "fails":
            raise CatalogError("unavailable", "upstream is down")
        if name == "slow":
            self.started.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        if name == "progress":
            if options.on_progress:
                await options.on_progress(1, 2, "half")
            if options.on_log:
                await options.on_log("info", {"step": 1}, "fake")
            return ToolResult(content=[{"type": "text", "text": "done"}])
        if name == "ask":
            if options.request_client is None:
                raise CatalogError("unavailable", "no way to reach the client")
            answer = await options.request_client(
                "sampling/createMessage",
                {"messages": [{"role": "user", "content": {"type": "text", "text": "hi?"}}], "maxTokens": 10},
            )
            return ToolResult(content=[{"type": "text", "text": f"client said: {answer['content']['text']}"}])
        raise CatalogError("not_found", f"Unknown tool: {name}")

    async def list_resources(self, context: Principal, server_id: str | None = None) -> list[ResourceSpec]:
        return [ResourceSpec(uri="test://static-text", name="static", mime_type="text/plain", title="Static")]

    async def list_resource_templates(
        self, context: Principal, server_id: str | None = None
    ) -> list[ResourceTemplateSpec]:
        return [ResourceTemplateSpec(uri_template="test://item/{id}", name="item")]

    async def read_resource(
        self, context: Principal, uri: str, *, server_id: str | None, options: CallOptions
    ) -> list[ResourceContents]:
        if uri != "test://static-text":
            raise CatalogError("not_found", f"Unknown resource: {uri}")
        return [ResourceContents(uri=uri, mime_type="text/plain", text="hello")]

    async def list_prompts(self, context: Principal, server_id: str | None = None) -> list[PromptSpec]:
        return [PromptSpec(name="greet", description="Greets", arguments=(PromptArgumentSpec("who", required=True),))]

    async def get_prompt(
        self, context: Principal, name: str, arguments: dict[str, str], *, server_id: str | None, options: CallOptions
    ) -> PromptResult:
        if name != "greet":
            raise CatalogError("not_found", f"Unknown prompt: {name}")
        if "who" not in arguments:
            raise CatalogError("invalid_arguments", "missing argument: who")
        text = f"Hello {arguments['who']}"
        return PromptResult(messages=[{"role": "user", "content": {"type": "text", "text": text}}])

    async def complete(
        self, context: Principal, ref: dict[str, Any], argument: dict[str, Any], *, server_id: str | None
    ) -> dict[str, Any]:
        values = [v for v in ("alice", "albert", "bob") if v.startswith(argument["value"])]
        return {"values": values, "total": len(values), "hasMore": False}


class FakeAuth:
    """Bearer "good" is user 1 (scoped to nothing), "scoped" is user 2 scoped to server s1."""

    async def authenticate(self, credentials: Credentials) -> Principal | None:
        if credentials.bearer == "good":
            return Principal(user_id=1, email="u@example.com", auth_method="api_token", token_id="t1")
        if credentials.bearer == "scoped":
            return Principal(user_id=2, auth_method="api_token", token_id="t2", scope_server_ids=frozenset({"s1"}))
        return None

    async def has_permission(self, context: Principal, permission: str, *, team_id: int | None = None) -> bool:
        return context.user_id is not None


class NoPlugins:
    async def run_hook(self, hook: str, context: Principal, payload: dict[str, Any]) -> dict[str, Any]:
        return payload


class NoObservability:
    def record_invocation(self, kind: str, entity_id: str, context: Principal, **fields: Any) -> None:
        return None

    def audit(self, action: str, context: Principal, **fields: Any) -> None:
        return None


def fake_services(catalog: FakeCatalog | None = None) -> CoreServices:
    """A CoreServices bundle with the fake catalog and auth and the real session service."""
    return CoreServices(
        auth=FakeAuth(),
        catalog=catalog or FakeCatalog(),
        sessions=EmbeddedSessionService(),
        plugins=NoPlugins(),
        observability=NoObservability(),
        config=EmbeddedConfigService(),
    )
