"""Run the webhook dispatcher: deliver every change to the endpoints that subscribe to it."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from configurations.services import webhooks


class Command(BaseCommand):
    help = (
        "Deliver webhooks until stopped: woken by the database's NOTIFY on PostgreSQL, polling on SQLite. Several "
        "dispatchers may run at once. --once delivers what is due and exits; --retry-now treats every waiting retry "
        "as due; --replay ID starts a dead delivery again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Deliver what is due now, then exit.")
        parser.add_argument("--retry-now", action="store_true", help="Every waiting retry is due now (once).")
        parser.add_argument("--replay", type=int, action="append", default=[], metavar="ID",
                            help="Start the delivery ID again from its first attempt (repeatable).")  # fmt: skip
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between polls (default 1).")

    def handle(self, *args, once: bool, retry_now: bool, replay: list[int], interval: float, **options):
        if replay:
            count = webhooks.replay(replay)
            self.stdout.write(_("%(n)d delivery(ies) queued again.") % {"n": count})
        webhooks.run(once=once, retry_now=retry_now, interval=interval, on_pass=self._print)

    def _print(self, report: webhooks.Report) -> None:
        self.stdout.write(
            _("%(events)d event(s) fanned out; %(delivered)d delivered, %(retrying)d to retry, %(dead)d dead.")
            % {"events": report.events, "delivered": report.delivered, "retrying": report.retrying, "dead": report.dead}
        )
        for error in report.errors:
            self.stderr.write(error)
