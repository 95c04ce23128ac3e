"""The header passthrough policy of the core (apps/catalog/passthrough.py), without servers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.catalog import passthrough
from apps.catalog.errors import InvalidInput
from apps.protocols.spi import UpstreamTarget

CALLER = {"x-tenant-id": "t-1", "x-trace-id": "trace", "authorization": "Bearer caller", "x-api-key": "caller-key"}


def _gateway(**fields):
    base = {"pk": "g1", "name": "up", "transport": "STREAMABLEHTTP", "passthrough_headers": [], "auth_type": "none"}
    return SimpleNamespace(**{**base, **fields})


def _target(headers=None) -> UpstreamTarget:
    return UpstreamTarget(gateway_id="g1", name="up", transport="STREAMABLEHTTP", url="http://u", headers=headers or {})


@pytest.fixture
def on(settings):
    settings.ENABLE_HEADER_PASSTHROUGH = True
    settings.PASSTHROUGH_HEADERS_DEFAULT = []
    return settings


def test_only_listed_headers_go_case_insensitively_under_the_configured_spelling(on) -> None:
    policy = passthrough.policy_for(_gateway(passthrough_headers=["X-TENANT-ID"]))
    assert passthrough.forward(_target(), policy, CALLER).headers == {"X-TENANT-ID": "t-1"}


def test_the_default_list_applies_only_to_a_gateway_without_its_own(on) -> None:
    on.PASSTHROUGH_HEADERS_DEFAULT = ["X-Trace-Id"]
    assert passthrough.forward(_target(), passthrough.policy_for(_gateway()), CALLER).headers == {"X-Trace-Id": "trace"}
    own = passthrough.policy_for(_gateway(passthrough_headers=["X-Tenant-Id"]))
    assert passthrough.forward(_target(), own, CALLER).headers == {"X-Tenant-Id": "t-1"}


def test_switch_off_stdio_and_nothing_to_forward_leave_the_target_as_it_is(on) -> None:
    target = _target()
    listed = passthrough.policy_for(_gateway(passthrough_headers=["X-Tenant-Id"]))
    assert passthrough.policy_for(_gateway(transport="STDIO", passthrough_headers=["X-Tenant-Id"])) is None
    assert passthrough.forward(target, None, CALLER) is target
    assert passthrough.forward(target, listed, {"x-other": "1"}) is target  # same scope, same pooled session
    on.ENABLE_HEADER_PASSTHROUGH = False
    assert passthrough.forward(target, listed, CALLER) is target


def test_the_gateway_credential_always_wins(on, caplog) -> None:
    names = ["Authorization", "X-Api-Key", "X-Tenant-Id"]
    bearer = passthrough.policy_for(_gateway(pk="g2", passthrough_headers=names, auth_type="bearer"))
    forwarded = passthrough.forward(_target({"Authorization": "Bearer mine"}), bearer, CALLER).headers
    assert forwarded == {"Authorization": "Bearer mine", "X-Api-Key": "caller-key", "X-Tenant-Id": "t-1"}
    # OAuth and query-parameter auth set no header here, yet the gateway has auth of its own.
    oauth = passthrough.policy_for(_gateway(pk="g3", passthrough_headers=names, auth_type="oauth"))
    assert "Authorization" not in passthrough.forward(_target(), oauth, CALLER).headers
    custom = passthrough.policy_for(_gateway(pk="g4", passthrough_headers=names, auth_type="headers"))
    assert passthrough.forward(_target({"x-api-key": "mine"}), custom, CALLER).headers["x-api-key"] == "mine"
    assert "not forwarding the caller's Authorization to upstream up" in caplog.text
    # No auth of its own and Authorization explicitly allowed: the caller's goes on.
    bare = passthrough.policy_for(_gateway(passthrough_headers=["authorization"]))
    assert passthrough.forward(_target(), bare, CALLER).headers == {"authorization": "Bearer caller"}


def test_values_are_size_limited_and_visible_ascii_only(on) -> None:
    policy = passthrough.policy_for(_gateway(passthrough_headers=["X-A", "X-B", "X-C", "X-D"]))
    caller = {
        "x-a": "v" * passthrough.MAX_VALUE_BYTES,
        "x-b": "v" * (passthrough.MAX_VALUE_BYTES + 1),
        "x-c": "caf\xe9",
        "x-d": "line\x01break",
    }
    assert passthrough.forward(_target(), policy, caller).headers == {"X-A": caller["x-a"]}


@pytest.mark.parametrize("name", ["Connection", "keep-alive", "Host", "Content-Length", "Cookie", "Mcp-Session-Id"])
def test_names_never_forwarded_are_refused_on_write(name) -> None:
    with pytest.raises(InvalidInput) as exc:
        passthrough.clean_allow_list("passthrough_headers", ["X-Tenant-Id", name])
    assert repr(name) in exc.value.errors["passthrough_headers"] and "never forwarded" in str(exc.value.errors)


def test_allow_list_is_deduplicated_and_bounded() -> None:
    assert passthrough.clean_allow_list("f", ["X-A", "x-a", " X-B "]) == ["X-A", "X-B"]
    assert passthrough.clean_allow_list("f", None) == []
    with pytest.raises(InvalidInput):
        passthrough.clean_allow_list("f", "X-A")
    with pytest.raises(InvalidInput):
        passthrough.clean_allow_list("f", [f"X-{n}" for n in range(passthrough.MAX_NAMES + 1)])


def test_a_bad_default_list_stops_start_up_naming_the_variable(settings) -> None:
    settings.PASSTHROUGH_HEADERS_DEFAULT = ["X-Trace-Id", "Transfer-Encoding"]
    with pytest.raises(ImproperlyConfigured) as exc:
        passthrough.check_default_list()
    assert "PASSTHROUGH_HEADERS_DEFAULT" in str(exc.value) and "'Transfer-Encoding'" in str(exc.value)
    settings.PASSTHROUGH_HEADERS_DEFAULT = ["X-Trace-Id"]
    passthrough.check_default_list()
