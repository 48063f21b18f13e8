"""Make sure a newcomer can log in: create a local superuser on first run."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _


class Command(BaseCommand):
    help = "Create the superuser 'admin' with a generated password if no superuser exists yet."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@localhost")

    def handle(self, *args, username: str, email: str, **options):
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            self.stdout.write(_("A superuser already exists; nothing to do."))
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser(username=username, email=email, password=password)
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Created superuser '%(username)s' with password: %(password)s\nThis password is shown only once. "
                    "Change it with: python manage.py changepassword %(username)s"
                )
                % {"username": username, "password": password}
            )
        )
