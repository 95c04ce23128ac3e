"""Restricted querysets: the only road from a caller to tenant-owned rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from apps.accounts.principal import Principal

__all__ = ["VisibleQuerySet"]


class VisibleQuerySet(models.QuerySet):
    """A queryset that can narrow itself to what a principal may see."""

    def visible_to(self, principal: Principal, action: str = "view") -> VisibleQuerySet:
        """Rows the principal may ``action`` (view by default).

        Platform admins see everything (unless a token narrows them to a team).
        Others see public rows, their own rows, and team/public rows of their teams.
        A team-scoped token narrows to rows of that team (and public ones for view).
        Only owners and team members act on non-public rows; public rows are readable
        by any authenticated caller, and by anonymous callers only for ``view``.
        """
        if principal.is_platform_admin and principal.scope_team_id is None:
            return self.all()
        if principal.user_id is None:
            return self.filter(visibility="public") if action == "view" else self.none()
        team_ids = principal.team_ids
        if principal.scope_team_id is not None:
            team_ids = team_ids & {principal.scope_team_id}
        mine = Q(owner_id=principal.user_id)
        if principal.scope_team_id is not None:
            mine &= Q(team_id=principal.scope_team_id)
        condition = mine | Q(team_id__in=team_ids, visibility__in=["team", "public"])
        if action == "view":
            condition |= Q(visibility="public")
        return self.filter(condition)
