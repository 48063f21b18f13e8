"""What every configuration-writing command shares: who is acting, and the audit context."""

from __future__ import annotations

import contextlib
import getpass

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from configurations import services
from configurations.observability import metrics


class AuditedCommand(BaseCommand):
    """A command whose writes are recorded with ``--actor`` and ``user agent = manage.py <name>``.

    ``self.actor`` is the user ``--actor`` names (None without it); commands pass it to the services.
    """

    actor = None
    # Commands that write values: they take --change-request, --title and --bypass-review (docs/change-requests.md).
    reviewable = False

    def create_parser(self, prog_name, subcommand, **kwargs):
        self.command_name = subcommand
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument(
            "--actor",
            help="Act as this user: recorded as the author, and held to that user's permissions (default: none).",
        )
        if self.reviewable:
            parser.add_argument(
                "--change-request",
                action="store_true",
                help="Write nothing: open a change request (one per environment) with what would be written; "
                "needs --actor, the request's author.",
            )
            parser.add_argument("--title", help="With --change-request: the request's title.")
            parser.add_argument(
                "--bypass-review",
                action="store_true",
                help="Write directly into an environment that needs review: needs --actor with the bypass "
                "permission and a --reason; the history records the bypass.",
            )

    def execute(self, *args, **options):
        self.actor = actor = self._actor(options.get("actor"))
        agent = f"manage.py {getattr(self, 'command_name', type(self).__module__.rsplit('.', 1)[-1])}"
        with (
            metrics.write_path("command"),
            services.request_context(actor=actor, ip_address=None, user_agent=f"{agent} (os user {_os_user()})"),
        ):
            try:
                with services.bypassing() if options.get("bypass_review") else contextlib.nullcontext():
                    return super().execute(*args, **options)
            except services.ReviewRequired as error:
                hint = " " + _("Or pass --change-request (with --actor) to open one.") if self.reviewable else ""
                raise CommandError(f"{error}{hint}") from None
            except PermissionDenied as error:
                # --actor acts with that user's permissions; a refusal is one clear line, nothing written.
                raise CommandError(_("%(error)s Nothing was changed.") % {"error": error}) from None

    def report_opened(self, opened: list[services.Opened]) -> None:
        """What --change-request opened: each request, what it holds, what it needs, and overlap warnings."""
        for item in opened:
            request = item.request
            needed = services.policy(request.environment).required_approvals or 1
            self.stdout.write(_(
                "Opened change request #%(id)s for %(environment)s: %(items)d item(s), %(needed)d approval(s) needed; "
                "nothing is live until it is applied (manage.py change_request show %(id)s)."
            ) % {"id": request.pk, "environment": request.environment, "items": request.items.count(),
                 "needed": needed})  # fmt: skip
            for warning in item.overlapping:
                self.stderr.write(_("warning: %(warning)s") % {"warning": warning})

    @staticmethod
    def _actor(username: str | None):
        if not username:
            return None
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(_("--actor: no user named %(name)r") % {"name": username}) from None


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
