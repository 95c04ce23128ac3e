"""Admin for teams and memberships."""

from django.contrib import admin

from .models import Team, TeamMember


class TeamMemberInline(admin.TabularInline):
    """Members shown on the team page."""

    model = TeamMember
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    """Teams with their members inline."""

    list_display = ["name", "slug", "visibility", "is_personal", "created_at"]
    list_filter = ["visibility", "is_personal"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [TeamMemberInline]
