"""A complete example plugin: a deny list on tool arguments and a redaction of results.

Configure it with ``PLUGINS = ["tests.plugins.example_plugin.DenyListPlugin"]`` and
``PLUGINS_CONFIG = {"deny_list": {"words": ["forbidden"], "redact": "secret"}}``.
"""

from __future__ import annotations

import json
from typing import Any

from apps.plugins.base import Plugin, PluginViolation


class DenyListPlugin(Plugin):
    """Blocks tool calls whose arguments mention a denied word; redacts a word in results and prompts."""

    name = "deny_list"
    description = "Blocks denied words in tool arguments and redacts a word from outputs."
    priority = 10
    default_config = {"words": [], "redact": ""}

    def tool_pre_invoke(self, context: Any, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Refuse the call when a denied word appears anywhere in the arguments."""
        text = json.dumps(payload.get("arguments", {})).lower()
        for word in self.config["words"]:
            if word.lower() in text:
                raise PluginViolation(f"argument contains the denied word {word!r}", code="denied_word")
        return None

    async def tool_post_invoke(self, context: Any, payload: dict[str, Any]) -> dict[str, Any]:
        """Replace the redacted word in text content."""
        word = self.config["redact"]
        result = dict(payload["result"])
        if word:
            result["content"] = [
                {**item, "text": item["text"].replace(word, "[redacted]")} if item.get("type") == "text" else item
                for item in result["content"]
            ]
        return {**payload, "result": result}

    def prompt_pre_fetch(self, context: Any, payload: dict[str, Any]) -> dict[str, Any]:
        """Upper-case every prompt argument (shows a pre-hook changing the payload)."""
        return {**payload, "arguments": {k: v.upper() for k, v in payload["arguments"].items()}}
