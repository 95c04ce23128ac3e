"""Catalog services: validation, permissions, uniqueness, audit, nothing half-written."""

from __future__ import annotations

import pytest

from apps.catalog import services
from apps.catalog.errors import Conflict, Forbidden, InvalidInput, NotFound, TooLarge
from apps.catalog.models import AuditEntry, Gateway, Prompt, Resource, Tool, VirtualServer
from tests.catalog.conftest import make_tool

pytestmark = pytest.mark.django_db


def test_create_tool_records_owner_team_and_audit(personas, as_):
    tool = make_tool(
        as_.owner, team=personas.team, input_schema={"type": "object", "properties": {"x": {"type": "integer"}}}
    )
    assert tool.owner_id == personas.owner.pk and tool.team_id == personas.team.pk
    assert tool.visibility == "team" and tool.original_name == "echo"
    entry = AuditEntry.objects.get(action="tool.create")
    assert entry.entity_id == tool.pk and entry.actor_email == personas.owner.email


def test_without_team_defaults_to_private(as_):
    assert make_tool(as_.owner).visibility == "private"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "bad name!"}, "name"),
        ({"name": "t", "input_schema": {"type": "nope"}}, "input_schema"),
        ({"name": "t", "input_schema": {"type": "string"}}, "input_schema"),
        ({"name": "t", "url": "ftp://example.com/x"}, "url"),
        ({"name": "t", "url": "http://127.0.0.1:9/items/{id"}, "url"),
        ({"name": "t", "url": "http://127.0.0.1:9/items/{1x}"}, "url"),
        ({"name": "t", "request_type": "TRACE"}, "request_type"),
        ({"name": "t", "jsonpath_filter": "$[[["}, "jsonpath_filter"),
        ({"name": "t", "surprise": 1}, "surprise"),
        ({"name": "t", "auth_type": "basic", "credentials": {"username": "u"}}, "credentials"),
        ({"name": "t", "visibility": "team"}, "visibility"),
        ({"name": "t", "team_id": 99999}, "team_id"),
    ],
)
def test_bad_tool_input_names_the_field_and_writes_nothing(as_, data, field):
    data.setdefault("url", "http://127.0.0.1:9/x")
    with pytest.raises(InvalidInput) as info:
        services.create_tool(as_.owner, data)
    assert field in info.value.errors
    assert not Tool.objects.exists() and not AuditEntry.objects.exists()


def test_private_addresses_refused_unless_allowed(as_, settings):
    settings.SSRF_ALLOW_PRIVATE_NETWORKS = False
    for url in ("http://127.0.0.1/x", "http://10.1.2.3/x", "http://169.254.169.254/latest", "http://localhost/x"):
        with pytest.raises(InvalidInput) as info:
            services.create_tool(as_.owner, {"name": "t", "url": url})
        assert "url" in info.value.errors


def test_duplicate_name_in_team_conflicts(personas, as_):
    make_tool(as_.owner, team=personas.team)
    with pytest.raises(Conflict) as info:
        make_tool(as_.member, team=personas.team)
    assert "name" in info.value.errors
    make_tool(as_.outsider)  # another owner, no team: fine


def test_outsider_cannot_create_in_foreign_team(personas, as_):
    with pytest.raises(InvalidInput):
        make_tool(as_.outsider, team=personas.team)


def test_update_and_delete_permissions(personas, as_):
    tool = make_tool(as_.owner, team=personas.team, visibility="public")
    services.update_tool(as_.member, tool.pk, {"description": "by member"})
    with pytest.raises(Forbidden):
        services.update_tool(as_.outsider, tool.pk, {"description": "nope"})
    private = make_tool(as_.owner, name="secret")
    with pytest.raises(NotFound):
        services.update_tool(as_.member, private.pk, {"description": "nope"})
    with pytest.raises(NotFound):
        services.delete_entity(as_.outsider, Tool, private.pk)
    tool.refresh_from_db()
    assert tool.description == "by member"
    services.delete_entity(as_.admin, Tool, private.pk)
    assert not Tool.objects.filter(pk=private.pk).exists()


def test_gateway_credentials_are_encrypted_at_rest(as_, django_db_blocker):
    from django.db import connection

    gateway = services.create_gateway(
        as_.owner,
        {
            "name": "Upstream One",
            "url": "http://127.0.0.1:9/mcp",
            "auth_type": "bearer",
            "credentials": {"token": "s3cr3t-token-value"},
        },
    )
    assert gateway.slug == "upstream-one"
    with connection.cursor() as cursor:
        cursor.execute("SELECT auth_secret FROM catalog_gateway WHERE id = %s", [gateway.pk])
        raw = cursor.fetchone()[0]
    assert raw and "s3cr3t-token-value" not in raw
    assert services.gateway_credentials(Gateway.objects.get(pk=gateway.pk)) == {"token": "s3cr3t-token-value"}
    target = services.upstream_target(gateway)
    assert target.headers == {"Authorization": "Bearer s3cr3t-token-value"}


def test_stdio_gateway_needs_command(as_):
    with pytest.raises(InvalidInput) as info:
        services.create_gateway(as_.owner, {"name": "local", "transport": "STDIO"})
    assert "command" in info.value.errors
    gateway = services.create_gateway(
        as_.owner,
        {"name": "local", "transport": "STDIO", "command": "python", "args": ["-m", "srv"], "env": {"A": "1"}},
    )
    assert services.upstream_target(gateway).args == ("-m", "srv")


def test_resource_content_size_and_mime(as_, settings):
    text = services.create_resource(as_.owner, {"uri": "file:///notes.md", "name": "notes", "content": "# hi"})
    assert text.mime_type == "text/markdown" and text.size == 4 and text.text_content == "# hi"
    blob = services.create_resource(as_.owner, {"uri": "file:///pic", "name": "pic", "blob": "iVBORw0KGgo="})
    assert blob.mime_type == "image/png" and bytes(blob.binary_content).startswith(b"\x89PNG")
    settings.RESOURCE_MAX_BYTES = 10
    with pytest.raises(TooLarge) as info:
        services.create_resource(as_.owner, {"uri": "file:///big.txt", "name": "big", "content": "x" * 11})
    assert "content" in info.value.errors
    assert Resource.objects.count() == 2


def test_prompt_arguments_derived_and_checked(as_):
    prompt = services.create_prompt(as_.owner, {"name": "greet", "template": "Hello {{ who }} from {{ place }}"})
    assert [a["name"] for a in prompt.arguments] == ["place", "who"]
    with pytest.raises(InvalidInput) as info:
        services.create_prompt(
            as_.owner, {"name": "g2", "template": "{{ a }} {{ b }}", "arguments": [{"name": "a", "required": True}]}
        )
    assert "undeclared" in info.value.errors["arguments"]
    with pytest.raises(InvalidInput) as info:
        services.create_prompt(as_.owner, {"name": "g3", "template": "{% if %}"})
    assert "template" in info.value.errors
    assert Prompt.objects.count() == 1


def test_server_refuses_colliding_aliases(personas, as_):
    a = make_tool(as_.owner, name="alpha", team=personas.team)
    b = make_tool(as_.owner, name="beta", team=personas.team)
    with pytest.raises(Conflict) as info:
        services.create_server(
            as_.owner, {"name": "s", "team_id": personas.team.pk, "tools": [{"id": a.pk, "alias": "beta"}, b.pk]}
        )
    assert "'beta'" in info.value.errors["associated_tools"]
    assert not VirtualServer.objects.exists()
    server = services.create_server(
        as_.owner, {"name": "s", "team_id": personas.team.pk, "tools": [{"id": a.pk, "alias": "first"}, b.pk]}
    )
    assert set(server.server_tools.values_list("alias", flat=True)) == {"first", ""}


def test_server_members_must_be_visible(personas, as_):
    hidden = make_tool(as_.owner, name="hidden")
    with pytest.raises(InvalidInput) as info:
        services.create_server(as_.outsider, {"name": "s", "tools": [hidden.pk]})
    assert "associated_tools" in info.value.errors


def test_set_enabled_on_gateway_carries_to_tools(as_):
    gateway = services.create_gateway(as_.owner, {"name": "gw", "url": "http://127.0.0.1:9/mcp"})
    from apps.protocols.spi import ToolSpec

    report = services.sync_gateway_catalog(
        gateway.pk, tools=[ToolSpec(id="", name="add"), ToolSpec(id="", name="echo")]
    )
    assert report["toolsAdded"] == 2
    services.set_enabled(as_.owner, Gateway, gateway.pk, False)
    assert not Tool.objects.filter(gateway=gateway, enabled=True).exists()


def test_catalog_changed_is_sent_after_commit(as_, django_capture_on_commit_callbacks):
    from apps.catalog.signals import catalog_changed

    received = []

    def listener(sender, kind, ids, **kwargs):
        received.append((kind, ids))

    catalog_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            tool = make_tool(as_.owner)
        assert received == []  # nothing before the commit
        for callback in callbacks:
            callback()
        assert received == [("tool", [tool.pk])]
    finally:
        catalog_changed.disconnect(listener)


def test_rolled_back_write_leaves_no_audit_and_no_signal(as_, django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        make_tool(as_.owner)
        raise RuntimeError("abort")
    assert callbacks == [] and not Tool.objects.exists() and not AuditEntry.objects.exists()
