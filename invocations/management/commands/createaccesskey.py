"""``manage.py createaccesskey USERNAME [--team TEAM]``: a new API key, printed as two shell-evaluable lines.

    eval "$(python manage.py createaccesskey admin)"   # then: export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY

A key acts for its user in one team. Without ``--team`` that is the user's only team (the default
team for a superuser in none); a user in several must say which. The user must be a member there
(``createuser USER --team TEAM`` makes them one).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from invocations.access_keys import create_access_key
from invocations.models import Membership, Team
from invocations.services import teams


class Command(BaseCommand):
    help = "Create an API access key for USERNAME and print AWS_ACCESS_KEY_ID=… and AWS_SECRET_ACCESS_KEY=…"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--team", help="the team the key acts in (needed when the user is in several)")
        parser.add_argument("--description", default="", help="a note stored with the key")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: options["username"]})
        except User.DoesNotExist:
            raise CommandError(f"No user named {options['username']!r}.") from None
        team = self._team(user, options["team"])
        key = create_access_key(user=user, team=team, description=options["description"])
        # Both values are [A-Za-z0-9_-]: safe to eval without quoting.
        self.stdout.write(f"AWS_ACCESS_KEY_ID={key.access_key_id}")
        self.stdout.write(f"AWS_SECRET_ACCESS_KEY={key.secret_access_key}")

    def _team(self, user: Any, name: str | None) -> Team:
        mine = Team.objects.filter(memberships__user=user).order_by("name")
        if name is not None:
            team = Team.objects.filter(name=name).first()
            if team is None:
                raise CommandError(f"No team named {name!r}.")
            if not Membership.objects.filter(team=team, user=user).exists() and not user.is_superuser:
                raise CommandError(
                    f"{user.get_username()} is not a member of {name}: "
                    f"manage.py createuser {user.get_username()} --team {name} --role ROLE"
                )
            return team
        if mine.count() == 1:
            return mine.get()
        if mine.count() > 1:
            names = ", ".join(t.name for t in mine)
            raise CommandError(f"{user.get_username()} is in several teams ({names}): choose one with --team.")
        if user.is_superuser:
            return teams.default_team()
        raise CommandError(f"{user.get_username()} is in no team: manage.py createuser {user.get_username()} --team TEAM")
