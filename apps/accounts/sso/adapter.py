"""allauth's social-account adapter for the platform: domain allow list, names, IdP group sync."""

from __future__ import annotations

import logging
from typing import Any

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.http import HttpRequest, HttpResponseForbidden

__all__ = ["SocialAccountAdapter", "email_domain_allowed", "groups_of"]

log = logging.getLogger(__name__)


def email_domain_allowed(email: str | None) -> bool:
    """Whether an email's domain is in SSO_ALLOWED_DOMAINS (an empty list allows every domain)."""
    allowed = [d.lower().lstrip("@") for d in settings.SSO_ALLOWED_DOMAINS]
    if not allowed:
        return True
    domain = (email or "").rpartition("@")[2].lower()
    return bool(domain) and any(domain == d or domain.endswith("." + d) for d in allowed)


def groups_of(extra_data: dict[str, Any]) -> list[str]:
    """The groups the IdP asserted (claim SSO_GROUPS_CLAIM), from userinfo, the id_token, or the profile."""
    claim = settings.SSO_GROUPS_CLAIM
    for source in (extra_data.get("userinfo"), extra_data.get("id_token"), extra_data):
        if isinstance(source, dict) and isinstance(source.get(claim), list):
            return [str(g) for g in source[claim] if isinstance(g, str | int)][:500]
    return []


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Refuses emails outside the allow list and deactivated accounts; fills the full name."""

    def pre_social_login(self, request: HttpRequest, sociallogin: Any) -> None:
        """Gate every SSO sign-in (new and returning users) before anything is written."""
        email = sociallogin.user.email or next((a.email for a in sociallogin.email_addresses), "")
        if not email_domain_allowed(email):
            log.warning("SSO sign-in refused for %s: domain not allowed", email)
            raise ImmediateHttpResponse(HttpResponseForbidden("Sign-in with this email domain is not allowed."))
        existing = sociallogin.user if sociallogin.is_existing else None
        if existing is not None and not existing.is_active:
            raise ImmediateHttpResponse(HttpResponseForbidden("This account is disabled."))

    def populate_user(self, request: HttpRequest, sociallogin: Any, data: dict[str, Any]) -> Any:
        """Email (lower-cased) and full name from the provider's profile."""
        user = super().populate_user(request, sociallogin, data)
        user.email = (user.email or "").lower()
        name = data.get("name") or " ".join(filter(None, [data.get("first_name"), data.get("last_name")]))
        if name and not user.full_name:
            user.full_name = name[:255]
        return user


def sync_groups_on_login(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """allauth ``user_logged_in``: apply IdP group mappings after an SSO sign-in."""
    sociallogin = kwargs.get("sociallogin")
    if sociallogin is None:
        return
    from apps.teams.services import sync_idp_groups

    account = sociallogin.account
    sync_idp_groups(user, account.get_provider().app.provider_id or account.provider, groups_of(account.extra_data))
