"""OpenAPI 3 import: tool definitions from a document, by URL, inline or uploaded, then usable as tools."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.catalog.http_backend import OPENAPI
from tests.personas import api_client

pytestmark = pytest.mark.django_db


def test_from_url_picks_the_operation(personas, http_backend):
    client = api_client(personas.owner)
    response = client.post(
        "/v1/tools/generate-schemas-from-openapi",
        {"url": f"{http_backend}/echo/pets/3", "request_type": "GET", "openapi_url": f"{http_backend}/openapi.json"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["inputSchema"] == {
        "type": "object",
        "properties": {"petId": {"type": "integer"}, "verbose": {"type": "boolean"}},
        "required": ["petId"],
    }
    assert body["outputSchema"]["properties"]["parent"] == {}  # the cycle is cut
    by_name = {t["name"]: t for t in body["tools"]}
    assert set(by_name) == {"getPet", "createPet"}
    assert by_name["createPet"]["inputSchema"]["required"] == ["name"]
    assert by_name["getPet"]["url"] == f"{http_backend}/echo/pets/{{petId}}"


def test_generated_tool_is_created_and_called(personas, http_backend):
    client = api_client(personas.owner)
    tools = client.post(
        "/v1/tools/generate-schemas-from-openapi", {"openapi_url": f"{http_backend}/openapi.json"}, format="json"
    ).json()["tools"]
    created = [client.post("/v1/tools", tool, format="json") for tool in tools]
    assert [c.status_code for c in created] == [201, 201], [c.json() for c in created]
    from asgiref.sync import async_to_sync

    from apps.catalog import invoke
    from apps.teams.principals import principal_for_user

    result = async_to_sync(invoke.call_tool)(
        principal_for_user(personas.owner), "getPet", {"petId": 5, "verbose": False}
    )
    assert result.structured_content["path"] == "/echo/pets/5" and result.structured_content["query"] == {
        "verbose": "false"
    }


def test_inline_and_uploaded_documents(personas):
    client = api_client(personas.owner)
    inline = client.post(
        "/v1/tools/generate-schemas-from-openapi",
        {"spec": OPENAPI, "base_url": "https://api.example.com"},
        format="json",
    )
    assert inline.status_code == 200, inline.json()
    assert {t["url"] for t in inline.json()["tools"]} == {
        "https://api.example.com/echo/pets/{petId}",
        "https://api.example.com/echo/pets",
    }
    upload = SimpleUploadedFile("spec.json", json.dumps(OPENAPI).encode(), content_type="application/json")
    uploaded = client.post(
        "/v1/tools/generate-schemas-from-openapi",
        {"file": upload, "base_url": "https://api.example.com"},
        format="multipart",
    )
    assert uploaded.status_code == 200 and len(uploaded.json()["tools"]) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"spec": {"swagger": "2.0", "paths": {}}}, "spec"),
        ({"spec": OPENAPI}, "base_url"),
        ({}, "openapi_url"),
        ({"openapi_url": "ftp://example.com/spec"}, "openapi_url"),
    ],
)
def test_bad_documents_name_the_field(personas, body, field):
    response = api_client(personas.owner).post("/v1/tools/generate-schemas-from-openapi", body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"]


def test_private_spec_url_refused_when_guarded(personas, http_backend, settings):
    settings.SSRF_ALLOW_PRIVATE_NETWORKS = False
    response = api_client(personas.owner).post(
        "/v1/tools/generate-schemas-from-openapi", {"openapi_url": f"{http_backend}/openapi.json"}, format="json"
    )
    assert response.status_code == 400 and "private" in response.json()["errors"]["openapi_url"]
