"""The /v1 catalog API: CRUD per persona, bodies, filters, pagination, errors, query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.catalog import services
from apps.catalog.models import AuditEntry, Gateway, Prompt, Resource, Tool, VirtualServer
from apps.protocols.spi import ToolSpec
from tests.catalog.conftest import make_tool
from tests.personas import api_client

pytestmark = pytest.mark.django_db

#: path, model, a valid create body, a field to update, the wrapper key
ENTITIES = [
    ("tools", Tool, {"name": "echo", "url": "http://127.0.0.1:9/echo"}, "tool"),
    (
        "gateways",
        Gateway,
        {"name": "Upstream", "url": "http://127.0.0.1:9/mcp", "transport": "STREAMABLEHTTP"},
        "gateway",
    ),
    ("resources", Resource, {"uri": "file:///n.txt", "name": "n", "content": "hello"}, "resource"),
    ("prompts", Prompt, {"name": "greet", "template": "Hi {{ who }}"}, "prompt"),
    ("servers", VirtualServer, {"name": "bundle"}, "server"),
]
IDS = [e[0] for e in ENTITIES]


def _body(body, team, **extra):
    return {**body, "team_id": str(team.pk), **extra}


@pytest.mark.parametrize(("path", "model", "body", "wrapper"), ENTITIES, ids=IDS)
def test_crud_per_persona(personas, path, model, body, wrapper):
    owner, member, outsider, admin = (
        api_client(u) for u in (personas.owner, personas.member, personas.outsider, personas.admin)
    )
    assert api_client(None).get(f"/v1/{path}").status_code in (401, 403)

    created = owner.post(f"/v1/{path}", {wrapper: body, "team_id": str(personas.team.pk)}, format="json")
    assert created.status_code == 201, created.json()
    item = created.json()
    assert item["teamId"] == str(personas.team.pk) and item["visibility"] == "team"
    assert item["ownerEmail"] == personas.owner.email
    pk = item["id"]

    # member sees and edits; outsider sees nothing and cannot touch it; admin sees all
    assert [i["id"] for i in member.get(f"/v1/{path}").json()] == [pk]
    assert outsider.get(f"/v1/{path}").json() == []
    assert admin.get(f"/v1/{path}/{pk}").status_code == 200
    before = model.objects.get(pk=pk).description
    assert outsider.put(f"/v1/{path}/{pk}", {"description": "hacked"}, format="json").status_code == 404
    assert outsider.delete(f"/v1/{path}/{pk}").status_code == 404
    assert outsider.post(f"/v1/{path}/{pk}/state?activate=false").status_code == 404
    assert model.objects.get(pk=pk).description == before and model.objects.get(pk=pk).enabled

    updated = member.put(f"/v1/{path}/{pk}", {"description": "shared", "tags": ["Demo", "x"]}, format="json")
    assert updated.status_code == 200, updated.json()
    assert updated.json()["description"] == "shared" and updated.json()["tags"] == [
        {"id": "demo", "label": "demo"},
        {"id": "x", "label": "x"},
    ]

    state = member.post(f"/v1/{path}/{pk}/state?activate=false")
    assert state.status_code == 200 and state.json()["status"] == "success"
    assert member.get(f"/v1/{path}").json() == []
    assert [i["id"] for i in member.get(f"/v1/{path}?include_inactive=true").json()] == [pk]
    assert member.post(f"/v1/{path}/{pk}/toggle?activate=true").status_code == 200

    # public: the outsider can read, still not write
    owner.put(f"/v1/{path}/{pk}", {"visibility": "public"}, format="json")
    assert outsider.get(f"/v1/{path}/{pk}").status_code == 200
    assert outsider.put(f"/v1/{path}/{pk}", {"description": "hacked"}, format="json").status_code == 403

    assert member.delete(f"/v1/{path}/{pk}").status_code == 200
    assert not model.objects.filter(pk=pk).exists()
    assert AuditEntry.objects.filter(entity_id=pk, action__endswith=".delete").exists()


@pytest.mark.parametrize(("path", "model", "body", "wrapper"), ENTITIES, ids=IDS)
def test_flat_body_camel_case_and_duplicate_name(personas, path, model, body, wrapper):
    client = api_client(personas.owner)
    camel = {("teamId" if k == "team_id" else k): v for k, v in _body(body, personas.team).items()}
    assert client.post(f"/v1/{path}", camel, format="json").status_code == 201
    again = client.post(f"/v1/{path}", _body(body, personas.team), format="json")
    assert again.status_code == 409, again.json()
    assert again.json()["errors"]
    assert model.objects.count() == 1


@pytest.mark.parametrize(("path", "model", "body", "wrapper"), ENTITIES, ids=IDS)
def test_bad_input_names_the_field(personas, path, model, body, wrapper):
    client = api_client(personas.owner)
    unknown = client.post(f"/v1/{path}", {**body, "colour": "red"}, format="json")
    assert unknown.status_code == 400 and "colour" in unknown.json()["errors"]
    wrong_type = client.post(f"/v1/{path}", {**body, "tags": "not-a-list"}, format="json")
    assert wrong_type.status_code == 400 and "tags" in wrong_type.json()["errors"]
    wrong_type = client.post(f"/v1/{path}", {**body, "tags": [{"colour": 1}]}, format="json")
    assert wrong_type.status_code == 400 and "tags" in wrong_type.json()["errors"]
    broken = client.post(f"/v1/{path}", "{not json", content_type="application/json")
    assert broken.status_code == 400
    assert model.objects.count() == 0


def test_tool_specific_validation(personas):
    client = api_client(personas.owner)
    bad_schema = client.post(
        "/v1/tools", {"name": "t", "url": "http://127.0.0.1:9/", "inputSchema": {"type": 5}}, format="json"
    )
    assert bad_schema.status_code == 400 and "input_schema" in bad_schema.json()["errors"]
    bad_url = client.post("/v1/tools", {"name": "t", "url": "file:///etc/passwd"}, format="json")
    assert bad_url.status_code == 400 and "url" in bad_url.json()["errors"]
    assert Tool.objects.count() == 0


def test_oversize_body_is_413(personas, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    response = api_client(personas.owner).post(
        "/v1/resources", {"uri": "file:///big.txt", "name": "big", "content": "x" * 5000}, format="json"
    )
    assert response.status_code == 413
    assert Resource.objects.count() == 0


def test_resource_content_above_limit_is_413(personas, settings):
    settings.RESOURCE_MAX_BYTES = 100
    response = api_client(personas.owner).post(
        "/v1/resources", {"uri": "file:///big.txt", "name": "big", "content": "x" * 101}, format="json"
    )
    assert response.status_code == 413 and "content" in response.json()["errors"]


def test_credentials_are_write_only(personas):
    client = api_client(personas.owner)
    created = client.post(
        "/v1/gateways",
        {
            "name": "gw",
            "url": "http://127.0.0.1:9/mcp",
            "authType": "basic",
            "authUsername": "u",
            "authPassword": "pw-secret-1",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert "pw-secret-1" not in created.content.decode()
    assert created.json()["authType"] == "basic" and created.json()["hasCredentials"]
    listing = client.get("/v1/gateways").content.decode()
    assert "pw-secret-1" not in listing
    tool = client.post(
        "/v1/tools",
        {"tool": {"name": "t", "url": "http://127.0.0.1:9/", "auth": {"auth_type": "bearer", "token": "tok-secret-2"}}},
        format="json",
    )
    assert tool.status_code == 201, tool.json()
    assert "tok-secret-2" not in tool.content.decode() and tool.json()["auth"] == {"authType": "bearer"}


def test_filters_ordering_and_pagination(personas, as_):
    for i in range(7):
        make_tool(as_.owner, name=f"tool{i}", team=personas.team, tags=["even" if i % 2 == 0 else "odd"])
    make_tool(as_.owner, name="solo", description="the lonely one")
    client = api_client(personas.owner)
    assert len(client.get("/v1/tools?tags=odd").json()) == 3
    assert len(client.get(f"/v1/tools?team_id={personas.team.pk}").json()) == 7
    assert [t["name"] for t in client.get("/v1/tools?visibility=private").json()] == ["solo"]
    assert [t["name"] for t in client.get("/v1/tools?q=lonely").json()] == ["solo"]
    names = [t["name"] for t in client.get("/v1/tools?ordering=-name").json()]
    assert names == sorted(names, reverse=True)
    page = client.get("/v1/tools?limit=3&offset=3")
    assert len(page.json()) == 3 and page["X-Total-Count"] == "8" and 'rel="next"' in page["Link"]
    envelope = client.get("/v1/tools?limit=2&include_pagination=true").json()
    assert envelope["count"] == 8 and len(envelope["results"]) == 2
    assert len(client.get("/v1/tools?limit=100000").json()) == 8  # capped at 500, not refused
    assert client.get("/v1/tools?visibility=galaxy").status_code == 400


def test_gateway_filter_and_federated_tools_are_read_mostly(personas, as_):
    gateway = services.create_gateway(
        as_.owner, {"name": "gw", "url": "http://127.0.0.1:9/mcp", "team_id": personas.team.pk}
    )
    services.sync_gateway_catalog(gateway.pk, tools=[ToolSpec(id="", name="add", description="adds")])
    make_tool(as_.owner, team=personas.team)
    client = api_client(personas.member)
    (federated,) = client.get(f"/v1/tools?gateway_id={gateway.pk}").json()
    assert federated["name"] == "gw-add" and federated["originalName"] == "add" and federated["gatewaySlug"] == "gw"
    assert federated["integrationType"] == "MCP"
    refused = client.put(f"/v1/tools/{federated['id']}", {"url": "http://127.0.0.1:9/other"}, format="json")
    assert refused.status_code == 400 and "url" in refused.json()["errors"]
    assert client.put(f"/v1/tools/{federated['id']}", {"displayName": "Adder"}, format="json").status_code == 200
    counts = client.get(f"/v1/gateways/{gateway.pk}").json()
    assert counts["toolCount"] == 1


def test_refresh_without_runtime_is_503(personas, as_):
    gateway = services.create_gateway(as_.owner, {"name": "gw", "url": "http://127.0.0.1:9/mcp"})
    response = api_client(personas.owner).post(f"/v1/gateways/{gateway.pk}/tools/refresh")
    assert response.status_code == 503


def test_refresh_with_a_discovering_runtime(personas, as_):
    from apps.catalog import runtimes

    class Discovering:
        async def call_tool(self, target, name, arguments, options):
            raise AssertionError("not called")

        async def discover(self, target):
            assert target.headers == {"Authorization": "Bearer t0k"}
            return {
                "tools": [ToolSpec(id="", name="one"), ToolSpec(id="", name="two")],
                "protocol_version": "2025-06-18",
            }

    gateway = services.create_gateway(
        as_.owner,
        {"name": "gw", "url": "http://127.0.0.1:9/mcp", "auth_type": "bearer", "credentials": {"token": "t0k"}},
    )
    runtime = Discovering()
    runtimes.register_runtime("MCP", runtime)
    try:
        answer = api_client(personas.owner).post(f"/v1/gateways/{gateway.pk}/tools/refresh").json()
    finally:
        runtimes.unregister_runtime("MCP", runtime)
    assert answer["success"] and answer["toolsAdded"] == 2
    gateway.refresh_from_db()
    assert gateway.protocol_version == "2025-06-18" and gateway.reachable


def test_server_members_aliases_and_subresources(personas, as_):
    a = make_tool(as_.owner, name="alpha", team=personas.team)
    b = make_tool(as_.owner, name="beta", team=personas.team)
    p = services.create_prompt(as_.owner, {"name": "p", "template": "x", "team_id": personas.team.pk})
    r = services.create_resource(
        as_.owner, {"uri": "file:///r", "name": "r", "content": "x", "team_id": personas.team.pk}
    )
    client = api_client(personas.owner)
    clash = client.post(
        "/v1/servers",
        {
            "server": {"name": "s", "associated_tools": [a.pk, b.pk], "tool_aliases": {a.pk: "beta"}},
            "team_id": str(personas.team.pk),
        },
        format="json",
    )
    assert clash.status_code == 409 and "beta" in clash.json()["errors"]["associated_tools"]
    created = client.post(
        "/v1/servers",
        {
            "name": "s",
            "teamId": str(personas.team.pk),
            "associatedTools": [a.pk, {"id": b.pk, "alias": "second"}],
            "associatedPrompts": [p.pk],
            "associatedResources": [r.pk],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    server = created.json()
    assert server["toolAliases"] == {b.pk: "second"} and sorted(server["associatedToolIds"]) == sorted([a.pk, b.pk])
    tools = client.get(f"/v1/servers/{server['id']}/tools").json()
    assert [t["exposedName"] for t in tools] == ["alpha", "second"]
    assert [x["id"] for x in client.get(f"/v1/servers/{server['id']}/prompts").json()] == [p.pk]
    assert [x["id"] for x in client.get(f"/v1/servers/{server['id']}/resources").json()] == [r.pk]
    missing = client.put(f"/v1/servers/{server['id']}", {"associated_tools": ["f" * 32]}, format="json")
    assert missing.status_code == 400 and "associated_tools" in missing.json()["errors"]


def test_prompt_render_and_resource_read(personas, as_):
    prompt = services.create_prompt(as_.owner, {"name": "greet", "template": "Hello {{ who }}!"})
    client = api_client(personas.owner)
    rendered = client.post(f"/v1/prompts/{prompt.pk}", {"who": "Ada"}, format="json")
    assert rendered.status_code == 200
    assert rendered.json()["messages"] == [{"role": "user", "content": {"type": "text", "text": "Hello Ada!"}}]
    missing = client.post(f"/v1/prompts/{prompt.pk}", {}, format="json")
    assert missing.status_code == 400 and "who" in missing.json()["detail"]
    assert client.get(f"/v1/prompts/{prompt.pk}").json()["arguments"] == [
        {"name": "who", "description": "", "required": True}
    ]
    assert (
        api_client(personas.outsider).post(f"/v1/prompts/{prompt.pk}", {"who": "x"}, format="json").status_code == 404
    )
    resource = services.create_resource(as_.owner, {"uri": "file:///n.json", "name": "n", "content": '{"a": 1}'})
    read = client.get(f"/v1/resources/{resource.pk}").json()
    assert read["text"] == '{"a": 1}' and read["mimeType"] == "application/json"
    info = client.get(f"/v1/resources/{resource.pk}/info").json()
    assert info["size"] == 8 and info["uri"] == "file:///n.json"
    template = client.post("/v1/resources/templates", {"uri_template": "file:///{x}.txt", "name": "t"}, format="json")
    assert template.status_code == 201, template.json()
    listed = client.get("/v1/resources/templates/list").json()
    assert [t["uriTemplate"] for t in listed["resource_templates"]] == ["file:///{x}.txt"]


def test_tags_and_search(personas, as_):
    make_tool(as_.owner, name="weather", tags=["geo", "demo"], description="forecast")
    services.create_prompt(as_.owner, {"name": "forecast_prompt", "template": "x", "tags": ["demo"]})
    make_tool(as_.outsider, name="hidden_forecast", tags=["secret"])
    client = api_client(personas.owner)
    tags = {t["name"]: t["stats"] for t in client.get("/v1/tags").json()}
    assert set(tags) == {"demo", "geo"} and tags["demo"]["total"] == 2 and tags["demo"]["tools"] == 1
    with_entities = client.get("/v1/tags?entity_types=prompts&include_entities=true").json()
    assert with_entities == [
        {
            "name": "demo",
            "stats": {"prompts": 1, "total": 1},
            "entities": [{"id": with_entities[0]["entities"][0]["id"], "name": "forecast_prompt", "type": "prompt"}],
        }
    ]
    found = client.get("/v1/search?q=forecast").json()
    assert [r["name"] for r in found["results"]["tools"]] == ["weather"]
    assert [r["name"] for r in found["results"]["prompts"]] == ["forecast_prompt"]
    assert found["total"] == 2
    assert client.get("/v1/search?entity_types=planets").status_code == 400


@pytest.mark.parametrize("path", ["tools", "gateways", "resources", "prompts", "servers", "resources/templates"])
def test_list_query_count_does_not_grow(personas, as_, path):
    client = api_client(personas.owner)

    def fill(n):
        for i in range(n):
            suffix = f"{path.replace('/', '_')}{Tool.objects.count()}_{i}"
            tool = make_tool(as_.owner, name=f"t{suffix}", team=personas.team)
            gw = services.create_gateway(
                as_.owner, {"name": f"g{suffix}", "url": "http://127.0.0.1:9/", "team_id": personas.team.pk}
            )
            services.sync_gateway_catalog(gw.pk, tools=[ToolSpec(id="", name="x")])
            services.create_resource(
                as_.owner, {"uri": f"file:///{suffix}", "name": "r", "content": "x", "team_id": personas.team.pk}
            )
            services.create_resource_template(
                as_.owner, {"uri_template": f"file:///{suffix}/{{x}}", "name": "t", "team_id": personas.team.pk}
            )
            p = services.create_prompt(as_.owner, {"name": f"p{suffix}", "template": "x", "team_id": personas.team.pk})
            services.create_server(
                as_.owner, {"name": f"s{suffix}", "team_id": personas.team.pk, "tools": [tool.pk], "prompts": [p.pk]}
            )

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/v1/{path}").status_code == 200
        return len(queries)

    fill(1)
    few = count()
    fill(5)
    assert count() == few


def test_scoped_token_persona(personas, as_):
    """The member's token, narrowed to the team and tools.read/tools.execute: reads tools, writes nothing."""
    tool = make_tool(as_.owner, team=personas.team)
    services.create_prompt(as_.owner, {"name": "p", "template": "x", "team_id": personas.team.pk})
    scoped = personas.scoped
    assert [t["id"] for t in scoped.get("/v1/tools").json()] == [tool.pk]
    assert scoped.get(f"/v1/tools/{tool.pk}").status_code == 200
    assert scoped.get("/v1/prompts").json() == []  # no prompts.read in the token
    refused = scoped.post(
        "/v1/tools", {"name": "new", "url": "http://127.0.0.1:9/", "team_id": str(personas.team.pk)}, format="json"
    )
    assert refused.status_code == 403
    assert scoped.put(f"/v1/tools/{tool.pk}", {"description": "x"}, format="json").status_code == 403
    assert scoped.delete(f"/v1/tools/{tool.pk}").status_code == 403
    assert scoped.post(f"/v1/tools/{tool.pk}/state?activate=false").status_code == 403
    assert Tool.objects.count() == 1 and Tool.objects.get().enabled and Tool.objects.get().description == ""


def test_server_scoped_jwt_reaches_only_its_server(personas, as_):
    from tests.personas import bearer_client

    one = make_tool(as_.owner, name="one", team=personas.team)
    two = make_tool(as_.owner, name="two", team=personas.team)
    s1 = services.create_server(as_.owner, {"name": "s1", "team_id": personas.team.pk, "tools": [one.pk]})
    services.create_server(as_.owner, {"name": "s2", "team_id": personas.team.pk, "tools": [two.pk]})
    client = bearer_client(personas.member, server_ids=[s1.pk])
    assert [s["id"] for s in client.get("/v1/servers").json()] == [s1.pk]
    assert [t["name"] for t in client.get("/v1/tools").json()] == ["one"]
    assert client.get(f"/v1/tools/{two.pk}").status_code == 404
    assert client.put(f"/v1/tools/{two.pk}", {"description": "x"}, format="json").status_code == 404
    assert client.put(f"/v1/tools/{one.pk}", {"description": "in scope"}, format="json").status_code == 200
    assert client.post(f"/v1/servers/{s1.pk}/state?activate=false").status_code == 200


def test_openapi_document_and_viewers_are_served(personas):
    client = api_client(None)
    document = client.get("/openapi.json", HTTP_ACCEPT="application/json")
    assert document.status_code == 200
    paths = document.json()["paths"]
    for path in (
        "/v1/tools",
        "/v1/tools/{id}/state",
        "/v1/gateways/{id}/tools/refresh",
        "/v1/prompts/{id}",
        "/v1/servers/{id}/tools",
        "/v1/resources/templates/list",
        "/v1/tags",
        "/v1/search",
        "/v1/tools/generate-schemas-from-openapi",
        "/v1/resources/{id}/info",
    ):
        assert path in paths, path
    assert client.get("/docs").status_code == 200 and client.get("/redoc").status_code == 200
