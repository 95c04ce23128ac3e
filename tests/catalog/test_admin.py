"""The catalog's Django admin: pages render, saves go through the services, bulk actions work."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from apps.catalog import services
from apps.catalog.models import AuditEntry, Gateway, Tool, VirtualServer
from apps.protocols.spi import ToolSpec
from tests.catalog.conftest import make_tool

pytestmark = pytest.mark.django_db

MODELS = [
    "gateway",
    "tool",
    "resource",
    "resourcetemplate",
    "prompt",
    "virtualserver",
    "invocationmetric",
    "metricrollup",
    "auditentry",
]


@pytest.fixture
def admin_client(personas):
    client = Client()
    client.force_login(personas.admin)
    return client


def _form(**fields):
    base = {"visibility": "private", "tags": "[]", "description": "", "enabled": "on"}
    return {**base, **fields}


@pytest.mark.parametrize("model", MODELS)
def test_changelists_and_add_pages_render(admin_client, as_, personas, model):
    gateway = services.create_gateway(
        as_.owner, {"name": "gw", "url": "http://127.0.0.1:9/mcp", "team_id": personas.team.pk}
    )
    services.sync_gateway_catalog(gateway.pk, tools=[ToolSpec(id="", name="add")])
    make_tool(as_.owner, name="local")
    services.create_server(as_.owner, {"name": "s", "tools": [Tool.objects.get(name="local").pk]})
    assert admin_client.get(f"/admin/catalog/{model}/").status_code == 200
    assert admin_client.get(f"/admin/catalog/{model}/?q=gw").status_code == 200


def test_change_pages_render_readable_json(admin_client, as_):
    gateway = services.create_gateway(as_.owner, {"name": "gw", "url": "http://127.0.0.1:9/mcp"})
    Gateway.objects.filter(pk=gateway.pk).update(capabilities={"tools": {"listChanged": True}})
    page = admin_client.get(f"/admin/catalog/gateway/{gateway.pk}/change/").content.decode()
    assert "&quot;listChanged&quot;: true" in page or '"listChanged": true' in page
    tool = make_tool(as_.owner, input_schema={"type": "object", "properties": {"q": {"type": "string"}}})
    page = admin_client.get(f"/admin/catalog/tool/{tool.pk}/change/").content.decode()
    assert "&quot;properties&quot;: {\n" in page
    server = services.create_server(as_.owner, {"name": "s", "tools": [{"id": tool.pk, "alias": "search"}]})
    assert admin_client.get(f"/admin/catalog/virtualserver/{server.pk}/change/").status_code == 200
    assert admin_client.get("/admin/catalog/tool/add/").status_code == 200


def test_add_tool_goes_through_the_service(admin_client, personas):
    response = admin_client.post(
        "/admin/catalog/tool/add/",
        _form(
            name="admin_tool",
            url="http://127.0.0.1:9/x",
            request_type="GET",
            auth_type="bearer",
            credentials=json.dumps({"token": "adm-secret"}),
            input_schema='{"type": "object"}',
            headers="{}",
            annotations="{}",
            query_mapping="{}",
            header_mapping="{}",
            body_mapping="{}",
            output_schema="null",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    tool = Tool.objects.get(name="admin_tool")
    assert tool.owner_id == personas.admin.pk and "adm-secret" not in tool.auth_secret
    assert AuditEntry.objects.filter(action="tool.create", entity_id=tool.pk).count() == 1


def test_bad_admin_input_shows_the_field_error_and_writes_nothing(admin_client):
    response = admin_client.post(
        "/admin/catalog/tool/add/",
        _form(
            name="bad",
            url="ftp://nope",
            request_type="GET",
            auth_type="none",
            input_schema='{"type": "object"}',
            headers="{}",
            annotations="{}",
            query_mapping="{}",
            header_mapping="{}",
            body_mapping="{}",
            output_schema="null",
        ),
    )
    assert response.status_code == 200
    assert "scheme must be http or https" in response.content.decode()
    assert not Tool.objects.exists() and not AuditEntry.objects.exists()


def test_server_alias_collision_is_refused_in_admin(admin_client, as_):
    a, b = make_tool(as_.admin, name="alpha"), make_tool(as_.admin, name="beta")
    response = admin_client.post(
        "/admin/catalog/virtualserver/add/",
        _form(
            name="s",
            icon="",
            tools=[a.pk, b.pk],
            tool_aliases=json.dumps({a.pk: "beta"}),
            **{"server_tools-TOTAL_FORMS": "0", "server_tools-INITIAL_FORMS": "0"},
        ),
    )
    assert response.status_code == 200 and "collision" in response.content.decode()
    assert not VirtualServer.objects.exists()


def test_bulk_disable_and_refresh_actions(admin_client, as_):
    tools = [make_tool(as_.owner, name=f"t{i}") for i in range(3)]
    response = admin_client.post(
        "/admin/catalog/tool/", {"action": "disable_selected", "_selected_action": [t.pk for t in tools[:2]]}
    )
    assert response.status_code == 302
    assert sorted(Tool.objects.filter(enabled=False).values_list("name", flat=True)) == ["t0", "t1"]
    gateway = services.create_gateway(as_.owner, {"name": "gw", "url": "http://127.0.0.1:9/mcp"})
    response = admin_client.post(
        "/admin/catalog/gateway/", {"action": "refresh_selected", "_selected_action": [gateway.pk]}, follow=True
    )
    assert "no upstream runtime" in response.content.decode()
