"""``manage.py createuser USERNAME --team TEAM [--role ROLE]``: an IAM user in a team, with a key.

Creates what is missing — the team (with a new 12-digit account id, or ``--account-id``), the user
(no password: set one with ``changepassword`` for the console), the membership (role ``developer``
unless ``--role``; an existing member's role changes only when ``--role`` is given) — and prints a
new key of that user in that team as two shell-evaluable lines::

    eval "$(python manage.py createuser alice --team payments --role tester)"
    export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY

What was created goes to stderr, so stdout stays those two lines.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from invocations.errors import AwsError
from invocations.models import Membership
from invocations.services import teams


class Command(BaseCommand):
    help = "Create what is missing of TEAM, USERNAME and their membership; print a new access key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--team", required=True, help="the team's name (created when missing)")
        parser.add_argument("--role", choices=Membership.Role.values, help="default: developer for a new member")
        parser.add_argument("--account-id", help="12 digits, for a new team (default: a new random one)")

    def handle(self, *args: Any, **options: Any) -> None:
        account_id = options["account_id"]
        if account_id is not None and not (account_id.isdigit() and len(account_id) == 12):
            raise CommandError("--account-id must be 12 digits.")
        try:
            done = teams.provision(team_name=options["team"], username=options["username"], role=options["role"],
                                   account_id=account_id)  # fmt: skip
        except AwsError as error:
            raise CommandError(error.message) from None
        assert done.key is not None
        created = ", ".join(done.created) or "nothing new"
        self.stderr.write(
            f"{done.user.get_username()} is {done.role} in team {done.team.name} (account {done.team.account_id}); "
            f"created: {created}."
        )
        # Both values are [A-Za-z0-9_-]: safe to eval without quoting.
        self.stdout.write(f"AWS_ACCESS_KEY_ID={done.key.access_key_id}")
        self.stdout.write(f"AWS_SECRET_ACCESS_KEY={done.key.secret_access_key}")
