"""Revocation reaches every worker at once: the auth epoch lives in the shared cache (Redis)."""

from __future__ import annotations

import httpx
import pytest

from apps.accounts.services import create_api_token
from tests.personas import make_personas
from tests.servers import gateway_env, start_gateway

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_revoked_token_is_refused_by_every_worker(redis_url) -> None:
    cast = make_personas()
    _, secret = create_api_token(cast.owner, name="multi-worker")
    env = gateway_env(REDIS_URL=redis_url, AUTH_CACHE_SECONDS="600", CELERY_TASK_ALWAYS_EAGER="true")
    with start_gateway(workers=2, env=env) as gateway, httpx.Client(base_url=gateway.url, timeout=10) as client:
        headers = {"Authorization": f"Bearer {secret}"}
        # Enough calls that both workers have cached the token as valid.
        for _ in range(20):
            assert client.get("/v1/auth/email/me", headers=headers).status_code == 200
        listing = client.get("/v1/tokens", headers=headers).json()
        token_id = next(t["id"] for t in listing["tokens"] if t["name"] == "multi-worker")
        assert client.delete(f"/v1/tokens/{token_id}", headers=headers).status_code == 204
        for _ in range(20):
            response = client.get("/v1/auth/email/me", headers=headers)
            assert response.status_code == 401
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
