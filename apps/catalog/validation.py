"""Field validators shared by the catalog services. Each raises InvalidInput naming the field."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
from jinja2 import TemplateSyntaxError, meta
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext import parse as jsonpath_parse

from .errors import InvalidInput
from .ssrf import UnsafeURL, check_url

__all__ = [
    "clean_arguments",
    "clean_headers",
    "clean_json_schema",
    "clean_jsonpath",
    "clean_str_map",
    "clean_tags",
    "clean_template",
    "clean_text",
    "clean_url",
]

HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def clean_text(field: str, value: Any, *, max_length: int = 255, required: bool = False, pattern=None) -> str:
    """A string of bounded length (optionally required, optionally matching ``pattern``)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"must be a string, not {type(value).__name__}", field)
    value = value.strip()
    if required and not value:
        raise InvalidInput("is required", field)
    if len(value) > max_length:
        raise InvalidInput(f"is longer than {max_length} characters", field)
    if value and pattern is not None and not pattern.match(value):
        raise InvalidInput(f"{value!r} does not match {pattern.pattern}", field)
    return value


def clean_tags(field: str, value: Any) -> list[str]:
    """Tags: a list of short strings, lower-cased, deduplicated, order kept."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput("must be a list of strings", field)
    tags: list[str] = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("id") or item.get("label"), str):
            item = item.get("id") or item.get("label")  # ContextForge export shape
        if not isinstance(item, str) or not item.strip():
            raise InvalidInput("must be a list of non-empty strings", field)
        tag = item.strip().lower()
        if len(tag) > 64:
            raise InvalidInput(f"tag {tag[:20]!r}... is longer than 64 characters", field)
        if tag not in tags:
            tags.append(tag)
    if len(tags) > 50:
        raise InvalidInput("has more than 50 tags", field)
    return tags


def clean_json_schema(field: str, value: Any, *, required_object: bool = False) -> dict[str, Any] | None:
    """A JSON Schema, checked against its metaschema; tool input schemas must be objects."""
    if value is None:
        return {"type": "object", "properties": {}} if required_object else None
    if not isinstance(value, dict):
        raise InvalidInput("must be a JSON Schema object", field)
    try:
        jsonschema.validators.validator_for(value).check_schema(value)
    except jsonschema.SchemaError as exc:
        raise InvalidInput(f"is not a valid JSON Schema: {exc.message}", field) from exc
    if required_object and value.get("type", "object") != "object":
        raise InvalidInput('must describe an object ("type": "object")', field)
    return value


def clean_str_map(field: str, value: Any, *, key_pattern=None, max_items: int = 100) -> dict[str, str]:
    """A mapping of strings to strings."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("must be an object of string values", field)
    if len(value) > max_items:
        raise InvalidInput(f"has more than {max_items} entries", field)
    for key, item in value.items():
        if not isinstance(item, str):
            raise InvalidInput(f"value of {key!r} must be a string", field)
        if key_pattern is not None and not key_pattern.match(key):
            raise InvalidInput(f"{key!r} is not a valid name", field)
    return dict(value)


def clean_headers(field: str, value: Any) -> dict[str, str]:
    """HTTP headers: valid names, string values without line breaks."""
    headers = clean_str_map(field, value, key_pattern=HEADER_NAME_RE)
    for key, item in headers.items():
        if "\r" in item or "\n" in item:
            raise InvalidInput(f"value of {key!r} contains a line break", field)
    return headers


def clean_url(field: str, value: Any, *, required: bool = True) -> str:
    """An http(s) URL that passes the SSRF guard (without DNS; fetches check again)."""
    url = clean_text(field, value, max_length=2048, required=required)
    if not url:
        return url
    try:
        check_url(url, resolve=False)
    except UnsafeURL as exc:
        raise InvalidInput(str(exc), field) from exc
    return url


def clean_jsonpath(field: str, value: Any) -> str:
    """A JSONPath expression (jsonpath-ng extended syntax), or empty."""
    expr = clean_text(field, value, max_length=1024)
    if expr:
        try:
            jsonpath_parse(expr)
        except (JsonPathLexerError, JsonPathParserError, Exception) as exc:
            raise InvalidInput(f"is not a valid JSONPath expression: {exc}", field) from exc
    return expr


def clean_template(field: str, value: Any, environment) -> tuple[str, set[str]]:
    """A Jinja2 template that compiles in ``environment``; returns it and its variables."""
    template = value if isinstance(value, str) else None
    if template is None:
        raise InvalidInput("must be a string", field)
    if len(template) > 1_000_000:
        raise InvalidInput("is longer than 1000000 characters", field)
    try:
        parsed = environment.parse(template)
    except TemplateSyntaxError as exc:
        raise InvalidInput(f"is not a valid template (line {exc.lineno}): {exc.message}", field) from exc
    return template, set(meta.find_undeclared_variables(parsed))


def clean_arguments(field: str, value: Any) -> list[dict[str, Any]]:
    """Prompt arguments: a list of {name, description, required} with unique identifier names."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput("must be a list of {name, description, required}", field)
    result, seen = [], set()
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise InvalidInput(f"item {index} must be an object", field)
        unknown = set(item) - {"name", "description", "required", "title"}
        if unknown:
            raise InvalidInput(f"item {index} has unknown keys {sorted(unknown)}", field)
        name = clean_text(f"{field}[{index}].name", item.get("name"), max_length=128, required=True)
        if not IDENTIFIER_RE.match(name):
            raise InvalidInput(f"item {index}: {name!r} is not an identifier", field)
        if name in seen:
            raise InvalidInput(f"argument {name!r} is listed twice", field)
        seen.add(name)
        required = item.get("required", False)
        if not isinstance(required, bool):
            raise InvalidInput(f"item {index}: required must be true or false", field)
        description = clean_text(f"{field}[{index}].description", item.get("description"), max_length=4096)
        result.append({"name": name, "description": description, "required": required})
    return result
