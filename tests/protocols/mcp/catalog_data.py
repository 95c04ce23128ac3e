"""Real catalog data for end-to-end MCP tests: local REST tools, resources, a template, prompts.

Names follow the official conformance suite's fixtures (test_simple_text, test://static-text,
test_simple_prompt, ...), so the same virtual server serves the SDK clients and the suite.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from apps.accounts.models import User
from apps.accounts.services import create_api_token
from apps.catalog import services
from apps.teams.principals import principal_for_user

#: A 1x1 PNG.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8cfc0000003"
        "010100c9fe92ef0000000049454e44ae426082"
    )
).decode()

SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {"address": {"type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False,
}


@dataclass
class CatalogFixture:
    """What ``build_catalog`` made."""

    server_id: str
    other_server_id: str
    token: str
    scoped_token: str
    owner: User


def build_catalog(backend_url: str, *, visibility: str = "public") -> CatalogFixture:
    """Create an owner, REST tools on ``backend_url``, resources, prompts and two virtual servers."""
    owner = User.objects.create_user("mcp-owner@example.com", "Correct-Horse-7", full_name="Mcp Owner")
    who = principal_for_user(owner)
    common = {"visibility": visibility}
    echo_schema = {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
        "additionalProperties": False,
    }
    tools = [
        services.create_tool(
            who, {**common, "name": "test_simple_text", "url": f"{backend_url}/echo/simple", "description": "Text"}
        ),
        services.create_tool(
            who, {**common, "name": "test_error_handling", "url": f"{backend_url}/fail", "description": "Fails"}
        ),
        services.create_tool(
            who,
            {
                **common,
                "name": "json_schema_2020_12_tool",
                "url": f"{backend_url}/echo/schema",
                "description": "Tool with JSON Schema 2020-12 features",
                "input_schema": SCHEMA_2020_12,
            },
        ),
        services.create_tool(
            who,
            {
                **common,
                "name": "echo",
                "url": f"{backend_url}/echo/said",
                "request_type": "POST",
                "description": "Echoes its arguments",
                "input_schema": echo_schema,
            },
        ),
    ]
    resources = [
        services.create_resource(
            who,
            {
                **common,
                "uri": "test://static-text",
                "name": "static-text",
                "mime_type": "text/plain",
                "content": "This is the content of the static text resource.",
            },
        ),
        services.create_resource(
            who,
            {**common, "uri": "test://static-binary", "name": "static-binary", "mime_type": "image/png", "blob": PNG},
        ),
    ]
    templates = [
        services.create_resource_template(
            who,
            {
                **common,
                "uri_template": "test://template/{id}/data",
                "name": "template",
                "mime_type": "application/json",
            },
        )
    ]
    prompts = [
        services.create_prompt(
            who,
            {
                **common,
                "name": "test_simple_prompt",
                "description": "A simple prompt",
                "template": "This is a simple prompt for testing.",
            },
        ),
        services.create_prompt(
            who,
            {
                **common,
                "name": "test_prompt_with_arguments",
                "description": "A prompt with arguments",
                "arguments": [
                    {"name": "arg1", "description": "First", "required": True},
                    {"name": "arg2", "description": "Second", "required": True},
                ],
                "template": "Prompt with arguments: arg1='{{ arg1 }}', arg2='{{ arg2 }}'",
            },
        ),
    ]
    server = services.create_server(
        who,
        {
            **common,
            "name": "conformance",
            "tools": [str(t.pk) for t in tools],
            "resources": [str(r.pk) for r in resources],
            "resource_templates": [str(t.pk) for t in templates],
            "prompts": [str(p.pk) for p in prompts],
        },
    )
    other = services.create_server(who, {**common, "name": "other", "tools": [str(tools[0].pk)]})
    _, token = create_api_token(owner, name="mcp e2e")
    _, scoped = create_api_token(owner, name="scoped to other", server_ids=[str(other.pk)])
    return CatalogFixture(str(server.pk), str(other.pk), token, scoped, owner)
