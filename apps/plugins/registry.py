"""The plugin registry: built from settings once at start-up, then fixed.

``registry.run(hook, context, payload)`` runs the chain of one hook point. With no
plugins configured every chain is empty and the payload passes through unchanged.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .base import HOOKS, Plugin, PluginViolation

logger = logging.getLogger(__name__)

__all__ = ["PluginRegistry", "registry"]


class PluginRegistry:
    """Plugins by hook point, in priority order. Frozen after ``load``."""

    def __init__(self) -> None:
        self._plugins: tuple[Plugin, ...] = ()
        self._chains: dict[str, tuple[Plugin, ...]] = {hook: () for hook in HOOKS}
        self.loaded = False

    @property
    def plugins(self) -> tuple[Plugin, ...]:
        """Every loaded plugin, in chain order."""
        return self._plugins

    def install(self, plugins: Iterable[Plugin]) -> None:
        """Replace the chains with these plugin instances (start-up only)."""
        ordered = tuple(sorted(plugins, key=lambda p: (p.priority, p.name)))
        names = [p.name for p in ordered]
        if len(set(names)) != len(names) or not all(names):
            raise ImproperlyConfigured(f"PLUGINS: every plugin needs a unique non-empty name, got {names}")
        self._plugins = ordered
        self._chains = {hook: tuple(p for p in ordered if hook in p.hooks()) for hook in HOOKS}
        self.loaded = True

    def load_from_settings(self) -> None:
        """Import ``settings.PLUGINS`` and configure each from ``settings.PLUGINS_CONFIG``."""
        instances = []
        for path in settings.PLUGINS:
            try:
                cls = import_string(path)
            except ImportError as exc:
                raise ImproperlyConfigured(f"PLUGINS: cannot import {path!r}: {exc}") from exc
            if not (inspect.isclass(cls) and issubclass(cls, Plugin)):
                raise ImproperlyConfigured(f"PLUGINS: {path!r} is not a Plugin subclass")
            instances.append(cls(settings.PLUGINS_CONFIG.get(cls.name, {})))
        self.install(instances)
        if instances:
            logger.info("plugins loaded: %s", ", ".join(p.name for p in self._plugins))

    def chain(self, hook: str) -> tuple[Plugin, ...]:
        """The plugins that run at ``hook``, in order."""
        if hook not in self._chains:
            raise ValueError(f"unknown hook point {hook!r}; known: {', '.join(HOOKS)}")
        return self._chains[hook]

    async def run(self, hook: str, context: Any, payload: dict[str, Any]) -> dict[str, Any]:
        """Run the chain of ``hook``; each plugin may replace the payload or raise PluginViolation."""
        for plugin in self.chain(hook):
            try:
                result = getattr(plugin, hook)(context, payload)
                if inspect.isawaitable(result):
                    result = await result
            except PluginViolation as exc:
                exc.plugin = exc.plugin or plugin.name
                raise
            if result is not None:
                if not isinstance(result, dict):
                    raise TypeError(f"plugin {plugin.name} returned {type(result).__name__} from {hook}, not a dict")
                payload = result
        return payload

    @contextmanager
    def swapped(self, plugins: Iterable[Plugin]) -> Iterator[PluginRegistry]:
        """Temporarily run with other plugins (tests), restoring the chains afterwards."""
        saved = (self._plugins, self._chains, self.loaded)
        self.install(plugins)
        try:
            yield self
        finally:
            self._plugins, self._chains, self.loaded = saved


registry = PluginRegistry()
