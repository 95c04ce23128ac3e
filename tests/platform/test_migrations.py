"""Migrations: complete, and applying cleanly to an empty database of each back end."""

from __future__ import annotations

import subprocess
import sys
import uuid
from io import StringIO

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.servers import ROOT, gateway_env


@pytest.mark.django_db
def test_models_and_migrations_agree():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_test_database_is_fully_migrated():
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []


def _migrate(database_url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=gateway_env(DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
@pytest.mark.django_db
def test_migrations_apply_to_an_empty_database(tmp_path):
    if connection.vendor == "sqlite":
        result = _migrate(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
        assert result.returncode == 0, result.stderr
        assert "Applying accounts.0001_initial... OK" in result.stdout
        return
    params = connection.get_connection_params()
    name = f"cf_migrate_{uuid.uuid4().hex[:8]}"
    admin = {k: params[k] for k in ("host", "port", "user") if params.get(k)}
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        result = _migrate(
            f"postgres://{admin['user']}@{admin.get('host', '127.0.0.1')}:{admin.get('port', 5432)}/{name}"
        )
        assert result.returncode == 0, result.stderr
        assert "Applying accounts.0001_initial... OK" in result.stdout
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
