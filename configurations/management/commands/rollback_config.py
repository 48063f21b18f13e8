"""Give a configuration back the value it had right after a history entry."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from configurations import services
from configurations.management.auditing import AuditedCommand


class Command(AuditedCommand):
    help = "Revert a configuration to the value right after history entry HISTORY_ID, as a new audited change."
    reviewable = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("history_id", type=int)
        parser.add_argument("--reason", required=True)

    def handle(self, *args, history_id: int, reason: str, **options):
        if options["change_request"]:
            return self._request(history_id, reason, options["title"])
        try:
            row = services.rollback(history_id=history_id, actor=self.actor, reason=reason)
        except services.NothingToRollBack as unchanged:
            self.stdout.write(" ".join(unchanged.messages))
            return
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        state = _("active") if row.is_active else _("inactive")
        self.stdout.write(_("Rolled back %(key)s to history entry #%(id)s (%(state)s).") % {
            "key": services.label(row.category, row.config_key, row.environment), "id": history_id, "state": state,
        })  # fmt: skip

    def _request(self, history_id: int, reason: str, title: str | None):
        try:
            item = services.rollback_item(history_id)
            environment = item.environment
            title = title or f"Roll back {item.category}.{item.key} to history entry #{history_id}"
            opened = services.open_request(environment, [item], title=title, reason=reason, actor=self.actor)
        except ValidationError as error:
            raise CommandError(_("no change request was opened: ") + "; ".join(error.messages)) from None
        self.report_opened([opened])
