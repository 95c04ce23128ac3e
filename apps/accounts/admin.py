"""Admin for users."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Users keyed by email."""

    ordering = ["email"]
    list_display = ["email", "full_name", "is_platform_admin", "is_active", "last_login"]
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
