"""The embedded CatalogService end to end: naming, visibility, scope, REST invocation, runtimes, plugins."""

from __future__ import annotations

import dataclasses
import json

import pytest
from asgiref.sync import sync_to_async

from apps.catalog import metrics, runtimes, services
from apps.catalog.models import InvocationMetric
from apps.plugins.registry import registry
from apps.protocols.embedded.catalog import EmbeddedCatalogService
from apps.protocols.spi import CallOptions, CatalogError, ResourceContents, ToolResult, ToolSpec
from tests.catalog.conftest import make_tool
from tests.plugins.example_plugin import DenyListPlugin

pytestmark = pytest.mark.django_db(transaction=True)

catalog = EmbeddedCatalogService()
OPTS = CallOptions()


class RecordingRuntime:
    """An MCP runtime that answers in-process and remembers what the core handed it."""

    def __init__(self):
        self.calls = []

    async def call_tool(self, target, name, arguments, options):
        self.calls.append((target, name, arguments))
        return ToolResult(content=[{"type": "text", "text": f"{name}:{json.dumps(arguments)}"}])


@pytest.fixture(autouse=True)
async def _close_worker_connections():
    """The database connection opened by sync_to_async's worker thread is closed after each test."""
    yield
    from django.db import connections

    await sync_to_async(connections.close_all)()


@pytest.fixture
def runtime():
    rt = RecordingRuntime()
    runtimes.register_runtime("MCP", rt)
    yield rt
    runtimes.unregister_runtime("MCP", rt)


def _federate(owner, team, name, tool_names):
    gateway = services.create_gateway(owner, {"name": name, "url": "http://127.0.0.1:9/mcp", "team_id": team.pk})
    services.sync_gateway_catalog(gateway.pk, tools=[ToolSpec(id="", name=n) for n in tool_names])
    return gateway


async def test_exposed_names_in_a_server_and_gateway_wide(personas, as_, runtime):
    @sync_to_async
    def setup():
        a = _federate(as_.owner, personas.team, "alpha", ["search", "add"])
        b = _federate(as_.owner, personas.team, "beta", ["search", "mul"])
        tools = {t.name: t for t in a.tools.all()} | {t.name: t for t in b.tools.all()}
        server = services.create_server(
            as_.owner,
            {
                "name": "bundle",
                "team_id": personas.team.pk,
                "tools": [
                    tools["alpha-search"].pk,
                    tools["beta-search"].pk,
                    tools["alpha-add"].pk,
                    {"id": tools["beta-mul"].pk, "alias": "times"},
                ],
            },
        )
        return server

    server = await setup()
    names = [t.name for t in await catalog.list_tools(as_.member, str(server.pk))]
    assert names == ["add", "alpha-search", "beta-search", "times"]
    wide = [t.name for t in await catalog.list_tools(as_.member)]
    assert wide == ["alpha-add", "alpha-search", "beta-mul", "beta-search"]
    result = await catalog.call_tool(as_.member, "times", {"x": 2}, server_id=str(server.pk), options=OPTS)
    assert result.content[0]["text"] == 'mul:{"x": 2}'
    target, original, _ = runtime.calls[-1]
    assert original == "mul" and target.url == "http://127.0.0.1:9/mcp"
    await catalog.call_tool(as_.member, "alpha-search", {}, server_id=None, options=OPTS)
    assert runtime.calls[-1][1] == "search"
    with pytest.raises(CatalogError) as info:
        await catalog.call_tool(as_.member, "mul", {}, server_id=str(server.pk), options=OPTS)
    assert info.value.code == "not_found"


async def test_outsider_sees_nothing_and_missing_equals_forbidden(personas, as_):
    tool = await sync_to_async(make_tool)(as_.owner, team=personas.team)
    server = await sync_to_async(services.create_server)(
        as_.owner, {"name": "s", "team_id": personas.team.pk, "tools": [tool.pk]}
    )
    assert await catalog.list_tools(as_.outsider) == []
    for server_id in (str(server.pk), "0" * 32):
        with pytest.raises(CatalogError) as info:
            await catalog.list_tools(as_.outsider, server_id)
        assert info.value.code == "not_found"
    for name in ("echo", "no-such-tool"):
        with pytest.raises(CatalogError) as info:
            await catalog.call_tool(as_.outsider, name, {}, server_id=None, options=OPTS)
        assert info.value.code == "not_found"
    spec = await catalog.get_server(as_.member, str(server.pk))
    assert spec.name == "s"


async def test_server_scoped_token_reaches_only_its_servers(personas, as_):
    @sync_to_async
    def setup():
        one = make_tool(as_.owner, name="one", team=personas.team)
        two = make_tool(as_.owner, name="two", team=personas.team)
        s1 = services.create_server(as_.owner, {"name": "s1", "team_id": personas.team.pk, "tools": [one.pk]})
        s2 = services.create_server(as_.owner, {"name": "s2", "team_id": personas.team.pk, "tools": [two.pk]})
        return s1, s2

    s1, s2 = await setup()
    scoped = dataclasses.replace(as_.member, scope_server_ids=frozenset({str(s1.pk)}), auth_method="api_token")
    assert [t.name for t in await catalog.list_tools(scoped, str(s1.pk))] == ["one"]
    assert [t.name for t in await catalog.list_tools(scoped)] == ["one"]
    with pytest.raises(CatalogError) as info:
        await catalog.list_tools(scoped, str(s2.pk))
    assert info.value.code == "not_found"
    with pytest.raises(CatalogError):
        await catalog.call_tool(scoped, "two", {}, server_id=None, options=OPTS)


async def test_rest_tool_against_a_real_http_server(as_, http_backend):
    tool = await sync_to_async(services.create_tool)(
        as_.owner,
        {
            "name": "get_pet",
            "url": f"{http_backend}/echo/pets/{{pet_id}}",
            "request_type": "GET",
            "input_schema": {
                "type": "object",
                "properties": {
                    "pet_id": {"type": "integer"},
                    "verbose": {"type": "boolean"},
                    "trace": {"type": "string"},
                },
                "required": ["pet_id"],
            },
            "header_mapping": {"trace": "X-Trace"},
            "headers": {"X-Static": "yes"},
            "auth_type": "bearer",
            "credentials": {"token": "tok-123"},
        },
    )
    result = await catalog.call_tool(
        as_.owner, "get_pet", {"pet_id": 7, "verbose": True, "trace": "t1"}, server_id=None, options=OPTS
    )
    assert not result.is_error
    answer = result.structured_content
    assert answer["method"] == "GET" and answer["path"] == "/echo/pets/7"
    assert answer["query"] == {"verbose": "true"}
    assert answer["headers"]["x-trace"] == "t1" and answer["headers"]["x-static"] == "yes"
    assert answer["headers"]["authorization"] == "Bearer tok-123"

    await sync_to_async(services.update_tool)(
        as_.owner,
        tool.pk,
        {
            "request_type": "POST",
            "url": f"{http_backend}/echo/pets",
            "jsonpath_filter": "$.body.name",
            "input_schema": {"type": "object", "properties": {"name": {"type": "string"}}},
        },
    )
    result = await catalog.call_tool(as_.owner, "get_pet", {"name": "Rex"}, server_id=None, options=OPTS)
    assert result.content == [{"type": "text", "text": '"Rex"'}]


async def test_rest_tool_errors(as_, http_backend):
    make = sync_to_async(services.create_tool)
    await make(as_.owner, {"name": "fail", "url": f"{http_backend}/fail"})
    await make(as_.owner, {"name": "slow", "url": f"{http_backend}/slow", "timeout_ms": 300})
    await make(as_.owner, {"name": "down", "url": "http://127.0.0.1:9/nothing"})
    await make(
        as_.owner,
        {
            "name": "typed",
            "url": f"{http_backend}/echo",
            "input_schema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
        },
    )
    result = await catalog.call_tool(as_.owner, "fail", {}, server_id=None, options=OPTS)
    assert result.is_error and "HTTP 500" in result.content[0]["text"]
    for name, code in (("slow", "timeout"), ("down", "unavailable")):
        with pytest.raises(CatalogError) as info:
            await catalog.call_tool(as_.owner, name, {}, server_id=None, options=OPTS)
        assert info.value.code == code
    with pytest.raises(CatalogError) as info:
        await catalog.call_tool(as_.owner, "typed", {"n": "three"}, server_id=None, options=OPTS)
    assert info.value.code == "invalid_arguments" and "'three' is not of type 'integer'" in info.value.message
    with pytest.raises(CatalogError) as info:
        await catalog.call_tool(as_.owner, "typed", {}, server_id=None, options=OPTS)
    assert "'n' is a required property" in info.value.message


async def test_federated_tool_without_runtime_is_unavailable(personas, as_):
    await sync_to_async(_federate)(as_.owner, personas.team, "gw", ["ping"])
    with pytest.raises(CatalogError) as info:
        await catalog.call_tool(as_.owner, "gw-ping", {}, server_id=None, options=OPTS)
    assert info.value.code == "unavailable"


async def test_plugins_run_around_calls(as_, http_backend):
    await sync_to_async(services.create_tool)(as_.owner, {"name": "echo", "url": f"{http_backend}/echo"})
    await sync_to_async(services.create_prompt)(as_.owner, {"name": "hi", "template": "Hi {{ who }}"})
    with registry.swapped([DenyListPlugin({"words": ["drop table"], "redact": "GET"})]):
        with pytest.raises(CatalogError) as info:
            await catalog.call_tool(as_.owner, "echo", {"q": "DROP TABLE x"}, server_id=None, options=OPTS)
        assert info.value.code == "forbidden" and info.value.data["plugin"] == "deny_list"
        result = await catalog.call_tool(as_.owner, "echo", {"q": "fine"}, server_id=None, options=OPTS)
        assert '"method": "[redacted]"' in result.content[0]["text"]
        prompt = await catalog.get_prompt(as_.owner, "hi", {"who": "ann"}, server_id=None, options=OPTS)
        assert prompt.messages[0]["content"]["text"] == "Hi ANN"


async def test_prompts_resources_templates_and_complete(as_):
    @sync_to_async
    def setup():
        services.create_prompt(
            as_.owner,
            {
                "name": "greet",
                "template": "Hello {{ who }}{% if mood %}, you seem {{ mood }}{% endif %}.",
                "arguments": [{"name": "who", "required": True}, {"name": "mood"}],
            },
        )
        services.create_resource(as_.owner, {"uri": "file:///b.txt", "name": "b", "content": "bee"})
        services.create_resource(as_.owner, {"uri": "file:///a.bin", "name": "a", "blob": "AAEC"})
        services.create_resource_template(as_.owner, {"uri_template": "file:///{name}.txt", "name": "any text"})

    await setup()
    prompts = await catalog.list_prompts(as_.owner)
    assert [(a.name, a.required) for a in prompts[0].arguments] == [("who", True), ("mood", False)]
    rendered = await catalog.get_prompt(as_.owner, "greet", {"who": "Bo"}, server_id=None, options=OPTS)
    assert rendered.messages == [{"role": "user", "content": {"type": "text", "text": "Hello Bo."}}]
    for args, message in (
        ({}, "missing required argument(s): who"),
        ({"who": "x", "x": "1"}, "unknown argument(s): x"),
    ):
        with pytest.raises(CatalogError) as info:
            await catalog.get_prompt(as_.owner, "greet", args, server_id=None, options=OPTS)
        assert info.value.code == "invalid_arguments" and message in info.value.message
    assert [r.uri for r in await catalog.list_resources(as_.owner)] == ["file:///a.bin", "file:///b.txt"]
    assert await catalog.read_resource(as_.owner, "file:///b.txt", server_id=None, options=OPTS) == [
        ResourceContents(uri="file:///b.txt", mime_type="text/plain", text="bee")
    ]
    (blob,) = await catalog.read_resource(as_.owner, "file:///a.bin", server_id=None, options=OPTS)
    assert blob.blob == "AAEC" and blob.text is None
    assert [t.uri_template for t in await catalog.list_resource_templates(as_.owner)] == ["file:///{name}.txt"]
    answer = await catalog.complete(
        as_.owner, {"type": "ref/prompt", "name": "greet"}, {"name": "who", "value": "B"}, server_id=None
    )
    assert answer == {"values": [], "total": 0, "hasMore": False}
    with pytest.raises(CatalogError) as info:
        await catalog.complete(as_.outsider, {"type": "ref/prompt", "name": "greet"}, {"name": "who"}, server_id=None)
    assert info.value.code == "not_found"


async def test_invocations_are_recorded_in_batches(as_, http_backend):
    await sync_to_async(services.create_tool)(as_.owner, {"name": "echo", "url": f"{http_backend}/echo"})
    await sync_to_async(metrics.flush)()  # rows buffered by earlier tests
    await InvocationMetric.objects.all().adelete()
    for _ in range(3):
        await catalog.call_tool(as_.owner, "echo", {}, server_id=None, options=OPTS)
    assert await InvocationMetric.objects.acount() == 0  # nothing written on the hot path
    assert metrics.pending() == 3
    assert await sync_to_async(metrics.flush)() == 3
    row = await InvocationMetric.objects.afirst()
    assert row.kind == "tool" and row.success and row.user_id == as_.owner.user_id
    assert await sync_to_async(metrics.rollup)() == 1


async def test_federated_prompts_resources_and_completion_go_to_the_runtime(personas, as_):
    from apps.protocols.spi import PromptArgumentSpec, PromptResult, PromptSpec, ResourceSpec

    class Upstream(RecordingRuntime):
        async def read_resource(self, target, uri, options):
            self.calls.append((target, "read", uri))
            return [ResourceContents(uri=uri, mime_type="text/plain", text="from upstream")]

        async def get_prompt(self, target, name, arguments, options):
            return PromptResult(messages=[{"role": "user", "content": {"type": "text", "text": f"{name}:{arguments}"}}])

        async def complete(self, target, ref, argument):
            return {"values": [ref["name"], argument["value"]], "total": 2, "hasMore": False}

    @sync_to_async
    def setup():
        gateway = services.create_gateway(as_.owner, {"name": "up", "url": "http://127.0.0.1:9/mcp"})
        services.sync_gateway_catalog(
            gateway.pk,
            resources=[ResourceSpec(uri="mem://a", name="a")],
            prompts=[PromptSpec(name="ask", arguments=(PromptArgumentSpec(name="q", required=True),))],
        )

    await setup()
    runtime = Upstream()
    runtimes.register_runtime("MCP", runtime)
    try:
        assert [p.name for p in await catalog.list_prompts(as_.owner)] == ["up-ask"]
        rendered = await catalog.get_prompt(as_.owner, "up-ask", {"q": "why"}, server_id=None, options=OPTS)
        assert rendered.messages[0]["content"]["text"] == "ask:{'q': 'why'}"
        for _ in range(2):  # the second read comes from the cache
            (content,) = await catalog.read_resource(as_.owner, "mem://a", server_id=None, options=OPTS)
            assert content.text == "from upstream"
        assert len([c for c in runtime.calls if c[1] == "read"]) == 1
        answer = await catalog.complete(
            as_.owner, {"type": "ref/prompt", "name": "up-ask"}, {"name": "q", "value": "w"}, server_id=None
        )
        assert answer == {"values": ["ask", "w"], "total": 2, "hasMore": False}
        with pytest.raises(CatalogError) as info:
            await catalog.complete(
                as_.owner, {"type": "ref/prompt", "name": "up-ask"}, {"name": "nope"}, server_id=None
            )
        assert info.value.code == "invalid_arguments"
    finally:
        runtimes.unregister_runtime("MCP", runtime)
        from django.core.cache import cache

        await cache.aclear()


async def test_refresh_accepts_the_mcp_runtime_discovery(as_):
    from apps.protocols.mcp.upstream.runtime import Discovery
    from apps.protocols.spi import ResourceTemplateSpec

    class Discovering(RecordingRuntime):
        async def discover(self, target):
            return Discovery(
                protocol_version="2025-11-25",
                server_info={"name": "up"},
                capabilities={"tools": {}},
                tools=[ToolSpec(id="", name="t1")],
                resource_templates=[ResourceTemplateSpec(uri_template="x://{id}", name="x")],
            )

    gateway = await sync_to_async(services.create_gateway)(as_.owner, {"name": "up", "url": "http://127.0.0.1:9/mcp"})
    runtime = Discovering()
    runtimes.register_runtime("MCP", runtime)
    try:
        report = await sync_to_async(services.refresh_gateway)(as_.owner, gateway.pk)
    finally:
        runtimes.unregister_runtime("MCP", runtime)
    assert report["toolsAdded"] == 1 and report["templatesAdded"] == 1
    assert [t.uri_template for t in await catalog.list_resource_templates(as_.owner)] == ["x://{id}"]


async def test_a2a_tool_is_dispatched_to_the_a2a_runtime(as_):
    from apps.catalog.models import Tool

    @sync_to_async
    def setup():
        tool = services.create_tool(
            as_.owner,
            {
                "name": "agent",
                "url": "http://127.0.0.1:9/a2a",
                "auth_type": "bearer",
                "credentials": {"token": "a2a-tok"},
            },
        )
        Tool.objects.filter(pk=tool.pk).update(integration_type="A2A")

    await setup()
    with pytest.raises(CatalogError) as info:
        await catalog.call_tool(as_.owner, "agent", {"query": "hi"}, server_id=None, options=OPTS)
    assert info.value.code == "unavailable"
    runtime = RecordingRuntime()
    runtimes.register_runtime("A2A", runtime)
    try:
        result = await catalog.call_tool(as_.owner, "agent", {"query": "hi"}, server_id=None, options=OPTS)
    finally:
        runtimes.unregister_runtime("A2A", runtime)
    target, original, arguments = runtime.calls[-1]
    assert original == "agent"
    assert result.content[0]["text"] == 'agent:{"query": "hi"}'
    assert target.transport == "A2A" and target.url == "http://127.0.0.1:9/a2a"
    assert target.headers["Authorization"] == "Bearer a2a-tok" and arguments == {"query": "hi"}
