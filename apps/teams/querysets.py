"""Restricted querysets: the only road from a caller to tenant-owned rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q
from django.db.models.functions import Cast

if TYPE_CHECKING:
    from apps.accounts.principal import Principal

__all__ = ["VisibleQuerySet", "visible_teams"]

# Action → guardian codename prefixes that grant it ("change" implies "view").
_ACTION_CODENAMES = {
    "view": ("view", "change", "delete"),
    "read": ("view", "change", "delete"),
    "change": ("change",),
    "update": ("change",),
    "edit": ("change",),
    "delete": ("delete",),
}


class VisibleQuerySet(models.QuerySet):
    """A queryset that can narrow itself to what a principal may see."""

    def visible_to(self, principal: Principal, action: str = "view") -> VisibleQuerySet:
        """Rows the principal may ``action`` (view by default).

        Platform admins see everything (unless a token narrows them to a team).
        Others see public rows, their own rows, team/public rows of their teams, and
        rows shared with them or one of their teams through guardian object permissions.
        Token scopes narrow further: a team-scoped token sees only that team's rows (and
        public ones for view), a server-scoped token only rows reachable from its
        servers (``server_scope_lookup``), a permission-scoped token nothing of a family
        whose ``<family>.read`` it lacks.
        Only owners, team members and sharees act on non-public rows; public rows are
        readable by any authenticated caller, and by anonymous callers only for ``view``.
        """
        queryset = self._scoped(principal)
        if principal.is_platform_admin and principal.scope_team_id is None:
            return queryset
        if principal.user_id is None:
            return queryset.filter(visibility="public") if action in ("view", "read") else queryset.none()
        team_ids = set(principal.team_ids)
        if principal.scope_team_id is not None:
            team_ids &= {principal.scope_team_id}
        mine = Q(owner_id=principal.user_id)
        if principal.scope_team_id is not None:
            mine &= Q(team_id=principal.scope_team_id)
        condition = mine | Q(team_id__in=team_ids, visibility__in=["team", "public"])
        if action in ("view", "read"):
            condition |= Q(visibility="public")
        shared = self._shared_with(principal, team_ids, action)
        if shared is not None:
            condition |= shared
        return queryset.filter(condition)

    def _scoped(self, principal: Principal) -> VisibleQuerySet:
        """Apply the server and permission narrowing of a token."""
        model = self.model
        family = getattr(model, "permission_family", None)
        if family and principal.scope_permissions is not None:
            from apps.teams.rbac import matches

            if not matches(principal.scope_permissions, f"{family}.read"):
                return self.none()
        lookup = getattr(model, "server_scope_lookup", None)
        if lookup and principal.scope_server_ids is not None:
            return self.filter(**{f"{lookup}__in": list(principal.scope_server_ids)}).distinct()
        return self

    def _shared_with(self, principal: Principal, team_ids: set[int], action: str) -> Q | None:
        """Rows shared through guardian object permissions with the user or one of their teams."""
        from django.contrib.contenttypes.models import ContentType
        from guardian.models import GroupObjectPermission, UserObjectPermission

        from apps.teams.models import Team

        prefixes = _ACTION_CODENAMES.get(action, (action,))
        model_name = self.model._meta.model_name
        codenames = [f"{prefix}_{model_name}" for prefix in prefixes]
        content_type = ContentType.objects.get_for_model(self.model)
        pk_field = self.model._meta.pk
        if isinstance(pk_field, models.AutoField | models.BigAutoField | models.IntegerField):
            cast_to: models.Field = models.BigIntegerField()
        elif isinstance(pk_field, models.UUIDField):
            cast_to = models.UUIDField()
        else:
            cast_to = models.CharField()
        per_user = UserObjectPermission.objects.filter(
            user_id=principal.user_id, content_type=content_type, permission__codename__in=codenames
        ).values(shared_pk=Cast("object_pk", cast_to))
        condition = Q(pk__in=per_user)
        if principal.scope_team_id is not None:
            condition &= Q(team_id=principal.scope_team_id)
        if team_ids:
            groups = Team.objects.filter(pk__in=team_ids, group__isnull=False).values("group_id")
            per_team = GroupObjectPermission.objects.filter(
                group_id__in=groups, content_type=content_type, permission__codename__in=codenames
            ).values(shared_pk=Cast("object_pk", cast_to))
            condition |= Q(pk__in=per_team)
        return condition


def visible_teams(principal: Principal) -> models.QuerySet:
    """Teams the principal may see: their own and public ones (all for platform admins).

    A team-scoped token sees only its team.
    """
    from apps.teams.models import Team

    teams = Team.objects.all()
    if principal.scope_team_id is not None:
        return teams.filter(pk=principal.scope_team_id, memberships__user_id=principal.user_id).distinct()
    if principal.is_platform_admin:
        return teams
    if principal.user_id is None:
        return teams.none()
    return teams.filter(Q(pk__in=principal.team_ids) | Q(visibility="public", is_personal=False))
