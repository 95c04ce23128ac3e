"""Unit rules of the catalog: exposed names, SSRF guard, encryption and rotation, metrics jobs, request mapping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from apps.catalog import crypto, metrics, services
from apps.catalog.models import Gateway, InvocationMetric, MetricRollup, Tool
from apps.catalog.names import ExposedTool, NameCollision, exposed_tool_names
from apps.catalog.rest_adapter import RestCall, build_request
from apps.catalog.ssrf import UnsafeURL, check_url
from apps.protocols.spi import CatalogError


def _m(tool_id, original, namespaced, alias=""):
    return ExposedTool(tool_id, original, namespaced, alias)


def test_original_names_unless_they_collide():
    names = exposed_tool_names([_m("1", "search", "a-search"), _m("2", "search", "b-search"), _m("3", "add", "a-add")])
    assert names == {"1": "a-search", "2": "b-search", "3": "add"}


def test_alias_beats_both_and_frees_the_original():
    names = exposed_tool_names([_m("1", "search", "a-search", alias="find"), _m("2", "search", "b-search")])
    assert names == {"1": "find", "2": "search"}


@pytest.mark.parametrize(
    "members",
    [
        [_m("1", "x", "a-x", alias="add"), _m("2", "add", "b-add")],
        [_m("1", "x", "a-x", alias="same"), _m("2", "y", "b-y", alias="same")],
        [_m("1", "a-x", "p-a-x"), _m("2", "x", "a-x"), _m("3", "x", "q-x")],
    ],
)
def test_collisions_are_refused_naming_them(members):
    with pytest.raises(NameCollision) as info:
        exposed_tool_names(members)
    assert "collision" in str(info.value) and "exposed by" in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://169.254.169.254/",
        "http://0.0.0.0/",
        "http://localhost:8000/",
        "http://[::ffff:127.0.0.1]/",
        "http://192.168.1.1/",
    ],
)
def test_ssrf_guard_refuses_private_targets(settings, url):
    settings.SSRF_ALLOW_PRIVATE_NETWORKS = False
    with pytest.raises(UnsafeURL):
        check_url(url)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "gopher://x/", "http://", "http://x:99999/"]
)
def test_ssrf_guard_refuses_other_schemes_and_garbage(settings, url):
    settings.SSRF_ALLOW_PRIVATE_NETWORKS = True
    with pytest.raises(UnsafeURL):
        check_url(url)


def test_ssrf_guard_allows_public_literals_and_private_when_allowed(settings):
    settings.SSRF_ALLOW_PRIVATE_NETWORKS = False
    assert check_url("https://93.184.216.34/x") == "https://93.184.216.34/x"
    settings.SSRF_ALLOW_PRIVATE_NETWORKS = True
    assert check_url("http://127.0.0.1:8080/") == "http://127.0.0.1:8080/"


def test_request_mapping():
    call = RestCall(
        method="POST",
        url="http://h/items/{item_id}",
        headers={"X-A": "1"},
        auth_headers={"Authorization": "Bearer t"},
        auth_query={"key": "k"},
        query_mapping={"page": "p"},
        header_mapping={"trace": "X-Trace"},
        body_mapping={"label": "name"},
    )
    request = build_request(call, {"item_id": "a/b", "page": 2, "trace": "t1", "label": "L", "extra": [1]})
    assert str(request.url) == "http://h/items/a%2Fb?p=2&key=k"
    assert request.headers["x-trace"] == "t1" and request.headers["authorization"] == "Bearer t"
    assert request.content == b'{"extra":[1],"name":"L"}' or request.content == b'{"extra": [1], "name": "L"}'
    with pytest.raises(CatalogError) as info:
        build_request(call, {})
    assert info.value.code == "invalid_arguments" and "item_id" in info.value.message
    with pytest.raises(CatalogError):
        build_request(call, {"item_id": 1, "trace": "a\r\nX-Evil: 1"})


@pytest.mark.django_db
def test_encryption_at_rest_and_key_rotation(personas, as_, settings):
    old_key = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEY = old_key
    tool = services.create_tool(
        as_.owner,
        {
            "name": "t",
            "url": "http://127.0.0.1:9/",
            "auth_type": "basic",
            "credentials": {"username": "u", "password": "hunter2-secret"},
        },
    )

    def raw():
        with connection.cursor() as cursor:
            cursor.execute("SELECT auth_secret FROM catalog_tool WHERE id = %s", [tool.pk])
            return cursor.fetchone()[0]

    before = raw()
    assert "hunter2-secret" not in before and Fernet(old_key.encode()).decrypt(before.encode())
    new_key = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_KEY_FALLBACKS = new_key, [old_key]
    call_command("rotate_encryption_key", stdout=open("/dev/null", "w"))  # noqa: SIM115
    after = raw()
    assert after != before and "hunter2-secret" not in after
    settings.ENCRYPTION_KEY_FALLBACKS = []
    assert services.tool_credentials(Tool.objects.get(pk=tool.pk)) == {"password": "hunter2-secret", "username": "u"}
    settings.ENCRYPTION_KEY = Fernet.generate_key().decode()
    with pytest.raises(crypto.DecryptionError):
        services.tool_credentials(Tool.objects.get(pk=tool.pk))


@pytest.mark.django_db
def test_key_derived_from_secret_key_when_unset(as_, settings):
    settings.ENCRYPTION_KEY = None
    gateway = services.create_gateway(
        as_.owner,
        {"name": "g", "url": "http://127.0.0.1:9/", "auth_type": "headers", "credentials": {"headers": {"X-Key": "v"}}},
    )
    assert services.gateway_credentials(Gateway.objects.get(pk=gateway.pk)) == {"headers": {"X-Key": "v"}}


@pytest.mark.django_db
def test_rollup_and_retention(settings):
    now = timezone.now().replace(minute=30)
    metrics.flush()  # rows buffered by earlier tests
    InvocationMetric.objects.all().delete()
    for i, ok in enumerate([True, True, False]):
        metrics.record(
            kind="tool", entity_id="t1", entity_name="echo", latency_ms=10.0 * (i + 1), success=ok, started_at=now
        )
    metrics.record(kind="tool", entity_id="t1", latency_ms=1, success=True, started_at=now - timedelta(days=30))
    assert metrics.flush() == 4
    written = InvocationMetric.objects.get(latency_ms=20.0)  # every column as recorded, defaults filled
    assert (written.kind, written.entity_name, written.success, written.started_at) == ("tool", "echo", True, now)
    assert (written.user_id, written.bytes_in, written.error_code) == (None, 0, "")
    assert metrics.rollup(now) == 1
    (rollup,) = MetricRollup.objects.all()
    assert (rollup.calls, rollup.failures, rollup.max_latency_ms, rollup.total_latency_ms) == (3, 1, 30.0, 60.0)
    metrics.rollup(now)  # idempotent
    assert MetricRollup.objects.get().calls == 3
    settings.METRICS_RETENTION_DAYS = 7
    assert metrics.prune(now)[0] == 1
    assert InvocationMetric.objects.count() == 3


def test_beat_schedule_has_the_catalog_jobs(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"catalog.flush_metrics", "catalog.rollup_metrics", "catalog.prune_metrics"} <= tasks
