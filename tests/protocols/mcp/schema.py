"""Validate emitted MCP objects against the JSON schema of their revision."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.validators import validator_for

SCHEMAS = Path(__file__).parent / "schemas"

#: The result definition each method's result must satisfy.
RESULT_DEFINITIONS = {
    "initialize": "InitializeResult",
    "ping": "EmptyResult",
    "server/discover": "DiscoverResult",
    "tools/list": "ListToolsResult",
    "tools/call": "CallToolResult",
    "resources/list": "ListResourcesResult",
    "resources/templates/list": "ListResourceTemplatesResult",
    "resources/read": "ReadResourceResult",
    "resources/subscribe": "EmptyResult",
    "resources/unsubscribe": "EmptyResult",
    "prompts/list": "ListPromptsResult",
    "prompts/get": "GetPromptResult",
    "completion/complete": "CompleteResult",
    "logging/setLevel": "EmptyResult",
    "subscriptions/listen": "SubscriptionsListenResult",
}


@cache
def _schema(revision: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{revision}.json").read_text())


@cache
def _validator(revision: str, definition: str) -> jsonschema.protocols.Validator:
    schema = _schema(revision)
    defs = "$defs" if "$defs" in schema else "definitions"
    if definition not in schema[defs]:
        raise KeyError(f"{definition} is not defined in the {revision} schema")
    wrapper = {**schema, "$ref": f"#/{defs}/{definition}"}
    cls = validator_for(schema)
    return cls(wrapper)


def validate(revision: str, definition: str, instance: Any) -> None:
    """Raise jsonschema.ValidationError unless ``instance`` is a valid ``definition``."""
    _validator(revision, definition).validate(instance)


def validate_result(revision: str, method: str, result: Any) -> None:
    """Validate a method's result object."""
    validate(revision, RESULT_DEFINITIONS[method], result)


def validate_error(revision: str, response: Any) -> None:
    """Validate a JSON-RPC error response."""
    definition = "JSONRPCError" if revision < "2025-11-25" else "JSONRPCErrorResponse"
    if response.get("id") is None:
        # Older schemas require an id on errors; a parse error has none to give.
        assert set(response) == {"jsonrpc", "id", "error"}
        assert isinstance(response["error"]["code"], int) and isinstance(response["error"]["message"], str)
        return
    validate(revision, definition, response)


def validate_notification(revision: str, message: Any) -> None:
    """Validate a server→client notification."""
    validate(revision, "ServerNotification", message)
