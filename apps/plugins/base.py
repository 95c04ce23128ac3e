"""What a plugin is: a class with hook methods, configured once at start-up.

A plugin subclasses ``Plugin`` and implements any of the hook methods named in
``HOOKS``; each takes the caller and a payload dict and returns the (possibly changed)
payload, or ``None`` to leave it unchanged. To stop a call, raise ``PluginViolation``.
Plugins are listed by dotted path in ``settings.PLUGINS`` and configured by name in
``settings.PLUGINS_CONFIG`` (NetBox's PluginConfig idea: declared, loaded once, fixed).
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = ["HOOKS", "Plugin", "PluginViolation"]

#: Every hook point the core calls, in call order around an invocation.
HOOKS: tuple[str, ...] = (
    "tool_pre_invoke",
    "tool_post_invoke",
    "resource_pre_fetch",
    "resource_post_fetch",
    "prompt_pre_fetch",
    "prompt_post_fetch",
)


class PluginViolation(Exception):
    """Raised by a hook to block the call; the message is shown to the caller."""

    def __init__(self, message: str, *, code: str = "policy_violation", plugin: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.plugin = plugin


class Plugin:
    """Base class of plugins. Subclasses set ``name`` and implement hook methods.

    ``priority`` orders the chain (lower runs first); ``config`` is the plugin's entry
    of ``settings.PLUGINS_CONFIG`` merged over ``default_config``.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = ""
    priority: ClassVar[int] = 100
    default_config: ClassVar[dict[str, Any]] = {}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = {**self.default_config, **(config or {})}

    def hooks(self) -> list[str]:
        """The hook points this plugin implements."""
        return [hook for hook in HOOKS if callable(getattr(self, hook, None))]
