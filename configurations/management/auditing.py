"""What every configuration-writing command shares: who is acting, and the audit context."""

from __future__ import annotations

import getpass

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from configurations import services
from configurations.observability import metrics


class AuditedCommand(BaseCommand):
    """A command whose writes are recorded with ``--actor`` and ``user agent = manage.py <name>``.

    ``self.actor`` is the user ``--actor`` names (None without it); commands pass it to the services.
    """

    actor = None

    def create_parser(self, prog_name, subcommand, **kwargs):
        self.command_name = subcommand
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument(
            "--actor",
            help="Act as this user: recorded as the author, and held to that user's permissions (default: none).",
        )

    def execute(self, *args, **options):
        self.actor = actor = self._actor(options.get("actor"))
        agent = f"manage.py {getattr(self, 'command_name', type(self).__module__.rsplit('.', 1)[-1])}"
        with (
            metrics.write_path("command"),
            services.request_context(actor=actor, ip_address=None, user_agent=f"{agent} (os user {_os_user()})"),
        ):
            try:
                return super().execute(*args, **options)
            except PermissionDenied as error:
                # --actor acts with that user's permissions; a refusal is one clear line, nothing written.
                raise CommandError(f"{error} Nothing was changed.") from None

    @staticmethod
    def _actor(username: str | None):
        if not username:
            return None
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"--actor: no user named {username!r}") from None


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
