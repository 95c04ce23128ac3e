"""Keeping derived state in step with teams and memberships, whatever path wrote them.

Memberships change a caller's Principal (its team ids), so every change bumps the
auth epoch on commit; each team mirrors its members in an auth group, which is how
guardian shares one object with a whole team; every new user gets a personal team.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.accounts.services import invalidate_auth_cache

from .models import Team, TeamMember


@receiver(post_save, sender=Team)
def _team_group(sender: Any, instance: Team, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if raw or instance.group_id is not None:
        return
    group, _ = Group.objects.get_or_create(name=f"team:{instance.pk}")
    Team.objects.filter(pk=instance.pk).update(group=group)
    instance.group = group


@receiver(post_delete, sender=Team)
def _team_group_gone(sender: Any, instance: Team, **kwargs: Any) -> None:
    if instance.group_id is not None:
        Group.objects.filter(pk=instance.group_id).delete()
    invalidate_auth_cache()


@receiver(post_save, sender=TeamMember)
def _member_joined(sender: Any, instance: TeamMember, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        return
    group_id = Team.objects.filter(pk=instance.team_id).values_list("group_id", flat=True).first()
    if group_id is not None:
        instance.user.groups.add(group_id)
    invalidate_auth_cache()


@receiver(post_delete, sender=TeamMember)
def _member_left(sender: Any, instance: TeamMember, **kwargs: Any) -> None:
    group_id = Team.objects.filter(pk=instance.team_id).values_list("group_id", flat=True).first()
    if group_id is not None:
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(pk=instance.user_id).first()
        if user is not None:
            user.groups.remove(group_id)
    invalidate_auth_cache()


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def _user_saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        return
    if created:
        from .services import create_personal_team

        create_personal_team(instance)
    else:
        invalidate_auth_cache()
