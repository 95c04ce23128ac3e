"""Rendering local prompts in a sandboxed Jinja2 environment."""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined, TemplateError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from .errors import InvalidInput

__all__ = ["check_prompt_arguments", "environment", "render_template"]

#: Sandboxed (no attribute access to internals, immutable containers), strict about undefined names.
environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=False)

MAX_ARGUMENT_CHARS = 100_000
MAX_OUTPUT_CHARS = 1_000_000


def check_prompt_arguments(declared: list[dict[str, Any]], arguments: Any) -> dict[str, str]:
    """Validate caller arguments against the declared ones: missing, unknown or non-string values fail."""
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise InvalidInput("must be an object of argument names to strings", "arguments")
    names = {arg["name"] for arg in declared}
    unknown = sorted(set(arguments) - names)
    if unknown:
        raise InvalidInput(f"unknown argument(s): {', '.join(unknown)}", "arguments")
    missing = sorted(arg["name"] for arg in declared if arg.get("required") and arg["name"] not in arguments)
    if missing:
        raise InvalidInput(f"missing required argument(s): {', '.join(missing)}", "arguments")
    for key, value in arguments.items():
        if not isinstance(value, str):
            raise InvalidInput(f"argument {key!r} must be a string", "arguments")
        if len(value) > MAX_ARGUMENT_CHARS:
            raise InvalidInput(f"argument {key!r} is longer than {MAX_ARGUMENT_CHARS} characters", "arguments")
    return dict(arguments)


def render_template(template: str, declared: list[dict[str, Any]], arguments: dict[str, str]) -> str:
    """Render ``template`` with the arguments; optional arguments not given render as empty strings."""
    values = {arg["name"]: "" for arg in declared}
    values.update(arguments)
    try:
        text = environment.from_string(template).render(**values)
    except UndefinedError as exc:
        raise InvalidInput(f"template needs a value the arguments do not provide: {exc.message}", "arguments") from exc
    except SecurityError as exc:
        raise InvalidInput(f"template tried an unsafe operation: {exc}", "template") from exc
    except TemplateError as exc:
        raise InvalidInput(f"template failed to render: {exc}", "template") from exc
    if len(text) > MAX_OUTPUT_CHARS:
        raise InvalidInput(f"rendered prompt is longer than {MAX_OUTPUT_CHARS} characters", "template")
    return text
