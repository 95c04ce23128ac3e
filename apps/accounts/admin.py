"""Admin for users, API tokens and revoked JWTs. Writes go through the accounts services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services
from .models import ApiToken, RevokedToken, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Users keyed by email, with unlock and deactivate actions."""

    ordering = ["email"]
    list_display = ["email", "full_name", "is_platform_admin", "is_active", "is_locked", "last_login"]
    list_filter = ["is_platform_admin", "is_active"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["full_name"]}),
        ("Status", {"fields": ["is_active", "is_platform_admin", "password_change_required"]}),
        ("Lockout", {"fields": ["failed_login_count", "locked_until"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    filter_horizontal: list[str] = []
    actions = ["unlock", "deactivate"]

    @admin.display(boolean=True, description="Locked")
    def is_locked(self, user: User) -> bool:
        """Whether a lockout is in force."""
        return user.is_locked

    @admin.action(description="Unlock selected users")
    def unlock(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        """Lift lockouts."""
        for user in queryset:
            services.unlock_user(user)
        self.message_user(request, f"{queryset.count()} user(s) unlocked.")

    @admin.action(description="Deactivate selected users (revokes their access at once)")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        """Deactivate users."""
        for user in queryset:
            services.deactivate_user(user)
        self.message_user(request, f"{queryset.count()} user(s) deactivated.")


class ApiTokenAddForm(forms.ModelForm):
    """What an admin fills in to mint a token for a user."""

    class Meta:
        model = ApiToken
        fields = ["user", "name", "description", "expires_at", "team", "server_ids", "permissions", "ip_restrictions"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """API tokens: the secret is shown once, on creation; never its hash."""

    list_display = ["name", "user", "token_prefix", "team", "is_active", "is_revoked", "expires_at", "last_used"]
    list_filter = ["is_active"]
    search_fields = ["name", "user__email", "token_prefix"]
    autocomplete_fields = ["user"]
    readonly_fields = [
        "id",
        "user",
        "token_prefix",
        "team",
        "created_at",
        "last_used",
        "last_used_ip",
        "usage_count",
        "revoked_at",
        "revoked_by",
        "revocation_reason",
    ]
    exclude = ["token_hash"]
    actions = ["revoke"]

    def get_form(self, request: HttpRequest, obj: ApiToken | None = None, **kwargs: Any) -> type[forms.ModelForm]:
        """The add form mints; the change form edits what may change."""
        if obj is None:
            kwargs["form"] = ApiTokenAddForm
            kwargs["fields"] = ApiTokenAddForm.Meta.fields
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        """Nothing is read-only on the add form."""
        return [] if obj is None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiToken, form: forms.ModelForm, change: bool) -> None:
        """Mint through the service and show the secret once; later edits go through update."""
        if change:
            fields = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
            services.update_api_token(ApiToken.objects.get(pk=obj.pk), **fields)
            return
        data = form.cleaned_data
        token, secret = services.create_api_token(
            data["user"],
            name=data["name"],
            description=data.get("description") or "",
            expires_at=data.get("expires_at"),
            team=data.get("team"),
            server_ids=data.get("server_ids"),
            permissions=data.get("permissions"),
            ip_restrictions=data.get("ip_restrictions"),
        )
        obj.pk = token.pk
        messages.warning(request, f"Token created. Copy it now, it will not be shown again: {secret}")

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        """Revoke tokens."""
        for token in queryset:
            services.revoke_api_token(token, revoked_by=request.user.email, reason="revoked in admin")
        self.message_user(request, f"{queryset.count()} token(s) revoked.")


@admin.register(RevokedToken)
class RevokedTokenAdmin(admin.ModelAdmin):
    """Revoked JWT ids."""

    list_display = ["jti", "revoked_at", "revoked_by", "reason"]
    search_fields = ["jti", "revoked_by"]
