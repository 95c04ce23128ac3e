"""The two tools every benchmark upstream serves, so every path answers the same bodies."""

from __future__ import annotations

from typing import Any

__all__ = ["TOOLS", "ToolInputError", "call_tool"]

TOOLS: list[dict[str, Any]] = [
    {
        "name": "echo",
        "description": "Return the given text unchanged.",
        "inputSchema": {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
            "additionalProperties": False,
        },
    },
    {
        "name": "add",
        "description": "Return the sum of two numbers.",
        "inputSchema": {
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"],
            "additionalProperties": False,
        },
    },
]


class ToolInputError(ValueError):
    """The arguments do not fit the tool's input schema (the message names the field)."""


def _number(arguments: dict[str, Any], field: str) -> float | int:
    value = arguments.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolInputError(f"argument '{field}' must be a number")
    return value


def call_tool(name: str, arguments: Any) -> str:
    """Run tool ``name``; return its text output or raise KeyError / ToolInputError."""
    if not isinstance(arguments, dict):
        raise ToolInputError("'arguments' must be an object")
    if name == "echo":
        text = arguments.get("text")
        if not isinstance(text, str):
            raise ToolInputError("argument 'text' must be a string")
        return text
    if name == "add":
        return str(_number(arguments, "a") + _number(arguments, "b"))
    raise KeyError(name)
