"""manage.py create_token --email E [--minutes N] [--team T] [--server ID ...]: print a JWT, nothing else."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.models import User
from apps.accounts.tokens import issue_jwt


class Command(BaseCommand):
    """Mint a JWT for a user, optionally narrowed to a team and virtual servers."""

    help = "Print a signed JWT for a user on stdout (and nothing else)."

    def add_arguments(self, parser: CommandParser) -> None:
        """--email, --minutes, --team, --server."""
        parser.add_argument("--email", required=True, help="The user the token stands for.")
        parser.add_argument("--minutes", type=int, default=None, help="Lifetime (default JWT_EXPIRY_MINUTES).")
        parser.add_argument("--team", default=None, help="Narrow to one team (id or slug) the user belongs to.")
        parser.add_argument("--server", action="append", default=[], help="Narrow to a virtual server (repeatable).")

    def handle(self, *args: Any, **options: Any) -> None:
        """Validate the arguments, then write the token."""
        from apps.teams.models import Team, TeamMember

        user = User.objects.filter(email__iexact=options["email"]).first()
        if user is None or not user.is_active:
            raise CommandError(f"--email: no active user {options['email']!r}")
        minutes = options["minutes"]
        if minutes is not None and minutes < 1:
            raise CommandError("--minutes: expected a positive number of minutes")
        team_id = None
        if options["team"]:
            ref = options["team"]
            team = Team.objects.filter(pk=int(ref)).first() if ref.isdigit() else Team.objects.filter(slug=ref).first()
            if team is None:
                raise CommandError(f"--team: no team {ref!r}")
            if not user.is_platform_admin and not TeamMember.objects.filter(team=team, user=user).exists():
                raise CommandError(f"--team: {user.email} is not a member of {team.slug}")
            team_id = team.pk
        token = issue_jwt(user, minutes=minutes, team_id=team_id, server_ids=options["server"] or None)
        self.stdout.write(token)
