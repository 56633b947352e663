"""``manage.py bootstrapadmin``: create the first superuser and an access key, once.

On the first run it prints ``USERNAME=…``, ``PASSWORD=…``, ``AWS_ACCESS_KEY_ID=…`` and
``AWS_SECRET_ACCESS_KEY=…`` (the only time the password and secret are shown); when the user already
exists it changes nothing and prints nothing. ``scripts/run.py`` relies on both behaviours. The
superuser is the admin of the default team (account ``LAMBDA_ACCOUNT_ID``), and the key acts there.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from invocations.access_keys import create_access_key
from invocations.models import Membership
from invocations.services import teams


class Command(BaseCommand):
    help = "Create a superuser with a random password and an access key, unless the user exists."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        username = options["username"]
        with transaction.atomic():
            if User.objects.filter(**{User.USERNAME_FIELD: username}).exists():
                return
            password = secrets.token_urlsafe(18)
            user = User.objects.create_superuser(username=username, email=options["email"], password=password)
            team = teams.default_team()
            Membership.objects.create(team=team, user=user, role=Membership.Role.ADMIN)
            key = create_access_key(user=user, team=team, description="created by bootstrapadmin")
        self.stdout.write(f"USERNAME={username}")
        self.stdout.write(f"PASSWORD={password}")
        self.stdout.write(f"AWS_ACCESS_KEY_ID={key.access_key_id}")
        self.stdout.write(f"AWS_SECRET_ACCESS_KEY={key.secret_access_key}")
