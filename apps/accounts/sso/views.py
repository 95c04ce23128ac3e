"""Login and callback views of the verified OIDC provider (allauth's OAuth2 views, our adapter)."""

from __future__ import annotations

from allauth.account.internal.decorators import login_not_required
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from allauth.utils import build_absolute_uri
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse


class VerifiedOIDCAdapter(OpenIDConnectOAuth2Adapter):
    """Always verifies the id_token signature, issuer, audience and expiry."""

    def _decode_id_token(self, app: SocialApp, id_token: str) -> dict:
        return jwtkit.verify_and_decode(
            credential=id_token,
            keys_url=self.openid_config["jwks_uri"],
            issuer=self.openid_config["issuer"],
            audience=app.client_id,
            lookup_kid=jwtkit.lookup_kid_jwk,
            verify_signature=True,
        )

    def get_callback_url(self, request: HttpRequest, app: SocialApp) -> str:
        """Our callback route."""
        url = reverse("oidc_callback", kwargs={"provider_id": self.provider_id})
        return build_absolute_uri(request, url, self.redirect_uri_protocol)


@login_not_required
def login(request: HttpRequest, provider_id: str) -> HttpResponse:
    """Start the authorization-code flow."""
    try:
        return OAuth2LoginView.adapter_view(VerifiedOIDCAdapter(request, provider_id))(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None


@login_not_required
def callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    """Finish the flow: exchange the code, verify the id_token, sign the user in."""
    try:
        return OAuth2CallbackView.adapter_view(VerifiedOIDCAdapter(request, provider_id))(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None
