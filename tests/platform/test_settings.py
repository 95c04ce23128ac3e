"""Settings: typed readers, loud failures, production guards."""

from __future__ import annotations

import subprocess
import sys

import pytest

from contextforge.env import (
    SettingError,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_secret,
    env_str,
    env_url,
)
from tests.servers import ROOT


def test_readers_return_defaults_when_unset():
    env: dict[str, str] = {}
    assert env_str("X", "d", environ=env) == "d"
    assert env_bool("X", True, environ=env) is True
    assert env_int("X", 7, environ=env) == 7
    assert env_list("X", ["a"], environ=env) == ["a"]
    assert env_choice("X", "json", ["json", "text"], environ=env) == "json"
    assert env_url("X", None, ["redis"], environ=env) is None


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("YES", True), ("1", True), ("off", False), ("0", False)]
)
def test_bool_accepts_common_spellings(raw, expected):
    assert env_bool("FLAG", not expected, environ={"FLAG": raw}) is expected


def test_bad_values_name_the_variable_and_the_expectation():
    with pytest.raises(SettingError, match=r"FLAG: expected a boolean .* got 'maybe'"):
        env_bool("FLAG", False, environ={"FLAG": "maybe"})
    with pytest.raises(SettingError, match=r"PORT: expected an integer between 1 and 65535, got '70000'"):
        env_int("PORT", 1, minimum=1, maximum=65535, environ={"PORT": "70000"})
    with pytest.raises(SettingError, match=r"PORT: expected an integer, got 'abc'"):
        env_int("PORT", 1, environ={"PORT": "abc"})
    with pytest.raises(SettingError, match=r"LOG_FORMAT: expected one of json\|text, got 'xml'"):
        env_choice("LOG_FORMAT", "json", ["json", "text"], environ={"LOG_FORMAT": "xml"})
    with pytest.raises(SettingError, match=r"DATABASE_URL: expected a URL with scheme postgres://\|sqlite://"):
        env_url("DATABASE_URL", None, ["sqlite", "postgres"], environ={"DATABASE_URL": "foo://x"})


def test_list_drops_blanks():
    assert env_list("HOSTS", environ={"HOSTS": " a.example , ,b.example,"}) == ["a.example", "b.example"]


def test_secret_from_file(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("s3cret-value\n")
    assert env_secret("SECRET_KEY", environ={"SECRET_KEY_FILE": str(secret_file)}) == "s3cret-value"
    with pytest.raises(SettingError, match="SECRET_KEY_FILE: expected a readable file"):
        env_secret("SECRET_KEY", environ={"SECRET_KEY_FILE": str(tmp_path / "missing")})
    with pytest.raises(SettingError, match="both SECRET_KEY and SECRET_KEY_FILE are set"):
        env_secret("SECRET_KEY", environ={"SECRET_KEY": "x", "SECRET_KEY_FILE": str(secret_file)})


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT), "DATA_DIR": str(ROOT / "data")}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "foo://x"}, "DATABASE_URL: expected a URL with scheme"),
        ({"REDIS_URL": "http://127.0.0.1"}, "REDIS_URL: expected a URL with scheme"),
        ({"PORT": "eighty"}, "PORT: expected an integer"),
        ({"DJANGO_ENV": "production"}, "SECRET_KEY: expected a unique secret"),
        ({"DJANGO_ENV": "production", "DEBUG": "true"}, "DEBUG: expected false when DJANGO_ENV=production"),
    ],
)
def test_process_refuses_to_start_with_a_clear_message(env, message):
    result = _manage(env, "check")
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "prod-" + "k" * 20 + "-0123456789abcdefghijklmnopqrstuvwxyz",
    "JWT_SECRET_KEY": "jwt-" + "j" * 20 + "-0123456789abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "gateway.example.com",
    "PLATFORM_ADMIN_PASSWORD": "a-long-production-password",
}


def test_production_check_deploy_passes_with_real_secrets():
    result = _manage(PRODUCTION_ENV, "check", "--deploy")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "security.W" not in result.stdout + result.stderr


def test_production_refuses_default_jwt_secret():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "JWT_SECRET_KEY"}
    result = _manage(env, "check")
    assert result.returncode == 2
    assert "JWT_SECRET_KEY: expected a unique secret" in result.stderr
