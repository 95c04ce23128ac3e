"""Upstream OAuth authorization code gateways in the core: storage, status, admin, metadata document.

The flow itself (authorization server, PKCE, refresh) runs against real servers in
tests/protocols/mcp/upstream/test_oauth_authorization_code.py.
"""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import Client

from apps.catalog import services, upstream_oauth
from apps.catalog.errors import InvalidInput
from apps.catalog.models import Gateway, OAuthToken
from tests.personas import api_client

pytestmark = pytest.mark.django_db

CODE = {"grant_type": "authorization_code", "client_id": "gw-client", "client_secret": "gw-secret"}


def _gateway(principal, **config) -> Gateway:
    return services.create_gateway(
        principal,
        {
            "name": "coded",
            "url": "http://127.0.0.1:9/mcp",
            "auth_type": "oauth",
            "credentials": {"config": {**CODE, **config}},
        },
    )


def test_unknown_grant_is_refused_and_nothing_stored(as_) -> None:
    with pytest.raises(InvalidInput) as bad:
        _gateway(as_.owner, grant_type="password")
    assert "grant_type" in str(bad.value.errors)
    assert not Gateway.objects.exists()


def test_tokens_are_stored_encrypted_and_status_never_shows_them(as_, personas) -> None:
    gateway = _gateway(as_.owner)  # stored without reaching the (unreachable) upstream
    target = services.upstream_target(gateway)
    assert target.oauth["authorize_url"].endswith(f"/oauth/authorize/{gateway.pk}")
    assert target.oauth["redirect_uri"].endswith("/oauth/callback")
    owner = api_client(personas.owner)
    status = owner.get(f"/oauth/status/{gateway.pk}").json()
    assert status["authorized"] is False and status["message"].startswith("needs authorization")

    upstream_oauth.save_tokens(
        gateway.pk, {"access_token": "raw-access-1", "refresh_token": "raw-refresh-1", "expires_in": 60}
    )
    row = OAuthToken.objects.get(gateway=gateway)
    assert "raw-access-1" not in row.secret and "raw-refresh-1" not in row.secret
    assert upstream_oauth.load_tokens(gateway.pk)["access_token"] == "raw-access-1"
    status = owner.get(f"/oauth/status/{gateway.pk}").json()
    assert status["authorized"] is True and status["refreshable"] is True
    assert "raw-access-1" not in str(status) and "raw-refresh-1" not in str(status)
    detail = owner.get(f"/v1/gateways/{gateway.pk}").content.decode()
    assert "raw-access" not in detail and "gw-secret" not in detail

    assert api_client(personas.outsider).get(f"/oauth/status/{gateway.pk}").status_code == 404
    assert api_client(None).get(f"/oauth/status/{gateway.pk}").status_code in (401, 403)


def test_admin_shows_the_authorization_state_and_the_link(as_, personas) -> None:
    gateway = _gateway(as_.owner)
    browser = Client()
    browser.force_login(personas.admin)
    page = browser.get(f"/admin/catalog/gateway/{gateway.pk}/change/").content.decode()
    assert "needs authorization" in page
    assert f'href="/oauth/authorize/{gateway.pk}?next=/admin/catalog/gateway/{gateway.pk}/change/"' in page
    upstream_oauth.save_tokens(gateway.pk, {"access_token": "a", "refresh_token": "r", "expires_in": 60})
    page = browser.get(f"/admin/catalog/gateway/{gateway.pk}/change/").content.decode()
    assert "authorized until" in page and "Authorize again" in page


def test_client_metadata_document_is_public_and_names_the_callback(settings) -> None:
    settings.PUBLIC_BASE_URL = "https://gateway.example.com"
    settings.OAUTH_CLIENT_METADATA_URL = ""
    document = Client().get("/oauth/client-metadata.json").json()
    assert document["client_id"] == "https://gateway.example.com/oauth/client-metadata.json"
    assert document["redirect_uris"] == ["https://gateway.example.com/oauth/callback"]
    assert document["token_endpoint_auth_method"] == "none"
    assert set(document["grant_types"]) == {"authorization_code", "refresh_token"}


def test_an_unsigned_browser_is_sent_to_sign_in(as_) -> None:
    gateway = _gateway(as_.owner)
    response = Client().get(f"/oauth/authorize/{gateway.pk}", HTTP_ACCEPT="text/html")
    assert response.status_code == 302 and response["location"].startswith("/admin/login/?next=")


def test_changing_credentials_or_url_drops_tokens_and_registration(as_) -> None:
    gateway = _gateway(as_.owner, client_id="", client_secret="")
    upstream_oauth.save_tokens(gateway.pk, {"access_token": "a", "refresh_token": "r", "expires_in": 60})
    upstream_oauth.save_client(gateway.pk, {"client_id": "dyn-1", "client_secret": "s"})
    services.update_gateway(as_.owner, gateway.pk, {"description": "same upstream"})
    assert OAuthToken.objects.filter(gateway=gateway).exists() and upstream_oauth.load_client(gateway.pk)
    services.update_gateway(as_.owner, gateway.pk, {"url": "http://127.0.0.1:10/mcp"})
    assert not OAuthToken.objects.filter(gateway=gateway).exists()
    assert upstream_oauth.load_client(gateway.pk) is None


def test_key_rotation_re_encrypts_tokens_and_registrations(as_, settings) -> None:
    old_key = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_KEY_FALLBACKS = old_key, []
    gateway = _gateway(as_.owner)
    upstream_oauth.save_tokens(gateway.pk, {"access_token": "raw-a", "refresh_token": "raw-r", "expires_in": 60})
    upstream_oauth.save_client(gateway.pk, {"client_id": "dyn-1", "client_secret": "raw-s"})
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_KEY_FALLBACKS = Fernet.generate_key().decode(), [old_key]
    call_command("rotate_encryption_key", stdout=io.StringIO())
    settings.ENCRYPTION_KEY_FALLBACKS = []
    assert upstream_oauth.load_tokens(gateway.pk)["access_token"] == "raw-a"
    assert upstream_oauth.load_client(gateway.pk)["client_secret"] == "raw-s"
