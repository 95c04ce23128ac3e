"""Background jobs of teams."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail


@shared_task(name="teams.send_invitation_email")
def send_invitation_email(invitation_id: int) -> bool:
    """Email an invitation's single-use link to the invited address (False when it is gone or used)."""
    from .models import TeamInvitation

    invitation = TeamInvitation.objects.select_related("team", "invited_by").filter(pk=invitation_id).first()
    if invitation is None or not invitation.is_active or invitation.accepted_at is not None:
        return False
    inviter = invitation.invited_by.get_full_name() if invitation.invited_by_id else "A team owner"
    base = settings.PUBLIC_BASE_URL or f"http://{settings.HOST}:{settings.PORT}"
    link = f"{base.rstrip('/')}/v1/teams/invitations/{invitation.token}/accept"
    send_mail(
        subject=f"Invitation to join {invitation.team.name} on ContextForge",
        message=(
            f"{inviter} invited you to join the team {invitation.team.name} as {invitation.role}.\n\n"
            f"Sign in as {invitation.email} and accept with: POST {link}\n\n"
            f"The invitation expires at {invitation.expires_at:%Y-%m-%d %H:%M} UTC and works once."
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )
    return True
