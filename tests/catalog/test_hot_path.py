"""The call path's per-worker memo: a warm call asks the database nothing, and no write is missed.

The tests are synchronous and drive the async services through ``async_to_sync``, so the
memo's database reads (``sync_to_async``, thread-sensitive) run on the test's own thread,
where ``django_assert_num_queries`` sees them. Each test first proves that a cold call does
query, so the zero-query assertions cannot pass by counting the wrong connection.
"""

from __future__ import annotations

import pytest
import redis
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.services import create_api_token, revoke_api_token
from apps.accounts.tokens import authenticate_bearer
from apps.catalog import hotcache, runtimes, services
from apps.catalog.models import Tool, VirtualServer
from apps.catalog.signals import catalog_changed
from apps.protocols.embedded import core_services
from apps.protocols.embedded.catalog import EmbeddedCatalogService
from apps.protocols.mcp.context import RequestContext
from apps.protocols.mcp.dispatcher import handle_message
from apps.protocols.mcp.revisions import LATEST_HANDSHAKE
from apps.protocols.spi import CallOptions, CatalogError, ToolResult, ToolSpec
from contextforge import versions

pytestmark = pytest.mark.django_db(transaction=True)

catalog = EmbeddedCatalogService()
call_tool = async_to_sync(catalog.call_tool)
list_tools = async_to_sync(catalog.list_tools)
get_server = async_to_sync(catalog.get_server)


class EchoRuntime:
    """An MCP runtime answering in-process with the tool name it was asked for."""

    async def call_tool(self, target, name, arguments, options):
        return ToolResult(content=[{"type": "text", "text": name}])


@pytest.fixture(autouse=True)
def runtime():
    rt = EchoRuntime()
    runtimes.register_runtime("MCP", rt)
    hotcache.clear()
    yield rt
    runtimes.unregister_runtime("MCP", rt)


@pytest.fixture
def bundle(personas, as_):
    """A team server bundling the tools echo and add of one federated upstream."""
    gateway = services.create_gateway(
        as_.owner, {"name": "up", "url": "http://127.0.0.1:9/mcp", "team_id": personas.team.pk}
    )
    services.sync_gateway_catalog(gateway.pk, tools=[ToolSpec(id="", name="echo"), ToolSpec(id="", name="add")])
    tools = {t.original_name: t for t in gateway.tools.all()}
    server = services.create_server(
        as_.owner, {"name": "bundle", "team_id": personas.team.pk, "tools": [t.pk for t in tools.values()]}
    )
    return str(server.pk), tools


def _call(principal, server_id, name="echo"):
    return call_tool(principal, name, {}, server_id=server_id, options=CallOptions())


def _names(principal, server_id):
    return [t.name for t in list_tools(principal, server_id)]


def _queries(function, *args) -> int:
    with CaptureQueriesContext(connection) as captured:
        function(*args)
    return len(captured)


def test_warm_call_list_and_server_lookup_query_nothing(bundle, as_, django_assert_num_queries):
    server_id, _ = bundle
    assert _queries(_call, as_.member, server_id) > 0
    assert _queries(_names, as_.member, server_id) > 0
    assert _queries(get_server, as_.member, server_id) > 0
    with django_assert_num_queries(0):
        assert _call(as_.member, server_id).content == [{"type": "text", "text": "echo"}]
        assert _names(as_.member, server_id) == ["add", "echo"]
        assert get_server(as_.member, server_id).name == "bundle"


def test_warm_mcp_dispatcher_call_and_list_query_nothing(bundle, as_, django_assert_num_queries):
    """Through the MCP dispatcher as a virtual server's endpoint serves it: tools/call and tools/list."""
    server_id, _ = bundle
    context = RequestContext(
        services=core_services(), principal=as_.member, server_id=server_id, default_revision=LATEST_HANDSHAKE
    )
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {}}}
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    dispatch = async_to_sync(handle_message)
    assert _queries(dispatch, context, call) > 0
    assert _queries(dispatch, context, listing) > 0
    with django_assert_num_queries(0):
        assert dispatch(context, call)["result"]["content"] == [{"type": "text", "text": "echo"}]
        assert [t["name"] for t in dispatch(context, listing)["result"]["tools"]] == ["add", "echo"]


def test_warm_gateway_wide_call_queries_nothing(bundle, as_, django_assert_num_queries):
    _, tools = bundle
    name = tools["echo"].name
    assert _queries(_call, as_.member, None, name) > 0
    with django_assert_num_queries(0):
        assert _call(as_.member, None, name).content == [{"type": "text", "text": "echo"}]


def test_answers_are_per_caller(bundle, as_):
    server_id, _ = bundle
    assert _names(as_.member, server_id) == ["add", "echo"]
    with pytest.raises(CatalogError) as denied:
        _names(as_.outsider, server_id)
    assert denied.value.code == "not_found"
    with pytest.raises(CatalogError):
        _call(as_.outsider, server_id)


def test_disabling_a_tool_is_seen_by_the_next_call(bundle, as_):
    server_id, tools = bundle
    _call(as_.member, server_id)
    assert _names(as_.member, server_id) == ["add", "echo"]
    services.set_enabled(as_.owner, Tool, tools["echo"].pk, False)
    with pytest.raises(CatalogError) as gone:
        _call(as_.member, server_id)
    assert gone.value.code == "not_found"
    assert _names(as_.member, server_id) == ["add"]


def test_changing_a_servers_members_is_seen_by_the_next_call(bundle, as_):
    server_id, tools = bundle
    assert _names(as_.member, server_id) == ["add", "echo"]
    _call(as_.member, server_id, "add")
    services.update_server(as_.owner, server_id, {"tools": [tools["echo"].pk]})
    assert _names(as_.member, server_id) == ["echo"]
    with pytest.raises(CatalogError):
        _call(as_.member, server_id, "add")


def test_disabling_a_server_is_seen_by_the_next_lookup(bundle, as_):
    server_id, _ = bundle
    assert get_server(as_.member, server_id).name == "bundle"
    services.set_enabled(as_.owner, VirtualServer, server_id, False)
    with pytest.raises(CatalogError):
        get_server(as_.member, server_id)


def _announce_as_another_worker() -> None:
    watch = versions._current_watch()
    if watch.redis() is not False:  # without Redis the token is read from the local cache each time
        assert redis.Redis.from_url(settings.REDIS_URL).publish(watch.channel, b"1") >= 1


def test_a_write_announced_by_another_worker_is_seen(bundle, as_):
    """Another worker's write reaches this one only through the shared cache backend's version."""
    server_id, tools = bundle
    assert _names(as_.member, server_id) == ["add", "echo"]
    # A bulk update sends no model signal in this process: the memo still answers...
    Tool.objects.filter(pk=tools["echo"].pk).update(enabled=False)
    assert _names(as_.member, server_id) == ["add", "echo"]
    # ...until the version token in the cache backend moves and the move is announced, as the
    # writing worker does on commit.
    cache.set(hotcache.VERSION_KEY, "moved-by-another-worker", timeout=None)
    _announce_as_another_worker()
    assert _names(as_.member, server_id) == ["add"]


def test_the_catalog_change_signal_moves_the_version(bundle, as_):
    server_id, tools = bundle
    assert _names(as_.member, server_id) == ["add", "echo"]
    Tool.objects.filter(pk=tools["add"].pk).update(enabled=False)
    catalog_changed.send(sender=None, kind="tool", ids=[str(tools["add"].pk)])
    assert _names(as_.member, server_id) == ["echo"]


def test_an_answer_read_before_a_write_is_not_filed_after_it(bundle, as_):
    server_id, _ = bundle
    before = hotcache.stamp()
    hotcache.bump()
    hotcache.get(hotcache.stamp(), "anything")
    hotcache.put(before, ("tools", hotcache.principal_key(as_.member), server_id), ("stale",))
    assert _names(as_.member, server_id) == ["add", "echo"]


def test_memo_off_asks_the_database_every_time(bundle, as_, settings):
    server_id, _ = bundle
    settings.CATALOG_MEMO_ENTRIES = 0
    _names(as_.member, server_id)
    assert _queries(_names, as_.member, server_id) > 0


def test_warm_token_verification_queries_nothing_and_revocation_is_seen(personas, django_assert_num_queries):
    token, secret = create_api_token(personas.member, name="hot")
    assert authenticate_bearer(secret, "127.0.0.1") is not None
    with django_assert_num_queries(0):
        principal = authenticate_bearer(secret, "127.0.0.1")
    assert principal.user_id == personas.member.pk
    revoke_api_token(token)
    assert authenticate_bearer(secret, "127.0.0.1") is None
