"""The two tools every benchmark upstream serves, so every path answers the same bodies."""

from __future__ import annotations

from typing import Any

__all__ = ["TOOLS", "ToolInputError", "call_tool", "catalog"]

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


def catalog(count: int = len(TOOLS)) -> list[dict[str, Any]]:
    """``count`` tools: echo and add, then echo variants ``echo_0003``... (for the tools/list benchmark)."""
    if count < len(TOOLS):
        raise ValueError(f"tool count must be at least {len(TOOLS)}")
    extra = [
        {**TOOLS[0], "name": f"echo_{i:04d}", "description": f"Return the given text unchanged (variant {i})."}
        for i in range(len(TOOLS) + 1, count + 1)
    ]
    return TOOLS + extra


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
    if name == "echo" or name.startswith("echo_"):
        text = arguments.get("text")
        if not isinstance(text, str):
            raise ToolInputError("argument 'text' must be a string")
        return text
    if name == "add":
        return str(_number(arguments, "a") + _number(arguments, "b"))
    raise KeyError(name)
