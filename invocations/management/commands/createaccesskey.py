"""``manage.py createaccesskey USERNAME``: a new API key, printed as two shell-evaluable lines.

    eval "$(python manage.py createaccesskey admin)"   # then: export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from invocations.access_keys import create_access_key


class Command(BaseCommand):
    help = "Create an API access key for USERNAME and print AWS_ACCESS_KEY_ID=… and AWS_SECRET_ACCESS_KEY=…"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--description", default="", help="a note stored with the key")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: options["username"]})
        except User.DoesNotExist:
            raise CommandError(f"No user named {options['username']!r}.") from None
        key = create_access_key(user=user, description=options["description"])
        # Both values are [A-Za-z0-9_-]: safe to eval without quoting.
        self.stdout.write(f"AWS_ACCESS_KEY_ID={key.access_key_id}")
        self.stdout.write(f"AWS_SECRET_ACCESS_KEY={key.secret_access_key}")
