"""The plugin registry: empty chains by default, ordering, loading from settings, blocking."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.plugins.base import HOOKS, Plugin, PluginViolation
from apps.plugins.registry import PluginRegistry, registry
from apps.protocols.embedded.plugins import EmbeddedPluginService
from apps.protocols.spi import ANONYMOUS, CatalogError
from tests.plugins.example_plugin import DenyListPlugin


async def test_default_chains_are_empty_and_pass_payload_through():
    assert registry.plugins == ()
    for hook in HOOKS:
        assert registry.chain(hook) == ()
    payload = {"arguments": {"a": 1}}
    assert await registry.run("tool_pre_invoke", ANONYMOUS, payload) is payload


def test_load_from_settings(settings):
    settings.PLUGINS = ["tests.plugins.example_plugin.DenyListPlugin"]
    settings.PLUGINS_CONFIG = {"deny_list": {"words": ["x"]}}
    fresh = PluginRegistry()
    fresh.load_from_settings()
    (plugin,) = fresh.plugins
    assert plugin.config == {"words": ["x"], "redact": ""}
    assert fresh.chain("tool_pre_invoke") == (plugin,) and fresh.chain("resource_pre_fetch") == ()


@pytest.mark.parametrize("path", ["tests.plugins.nope.Missing", "apps.plugins.base.HOOKS"])
def test_bad_plugin_paths_fail_loudly(settings, path):
    settings.PLUGINS = [path]
    with pytest.raises(ImproperlyConfigured):
        PluginRegistry().load_from_settings()


def test_unknown_hook_is_an_error():
    with pytest.raises(ValueError, match="unknown hook point"):
        registry.chain("tool_sideways")


async def test_priority_orders_the_chain_and_violation_names_plugin():
    class Second(Plugin):
        name = "second"
        priority = 50

        def tool_pre_invoke(self, context, payload):
            return {**payload, "trail": [*payload.get("trail", []), self.name]}

    class First(Second):
        name = "first"
        priority = 5

    with registry.swapped([Second(), First()]):
        result = await registry.run("tool_pre_invoke", ANONYMOUS, {})
    assert result["trail"] == ["first", "second"]
    with registry.swapped([DenyListPlugin({"words": ["bad"]})]):
        with pytest.raises(PluginViolation) as info:
            await registry.run("tool_pre_invoke", ANONYMOUS, {"arguments": {"q": "BAD idea"}})
        assert info.value.plugin == "deny_list"
        with pytest.raises(CatalogError) as spi_info:
            await EmbeddedPluginService().run_hook("tool_pre_invoke", ANONYMOUS, {"arguments": {"q": "bad"}})
        assert spi_info.value.code == "forbidden" and spi_info.value.data["plugin"] == "deny_list"
    assert registry.plugins == ()
