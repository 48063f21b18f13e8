"""Move old history rows to configuration_history_archive, in batches (resumable)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from configurations import services
from configurations.management.progress import ProgressBar


class Command(BaseCommand):
    help = "Move history older than --older-than days to the archive, one transaction per batch."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=730, metavar="DAYS", help="Default: 730 (two years).")
        parser.add_argument("--batch-size", type=int, default=10_000)
        parser.add_argument("--dry-run", action="store_true", help="Count what would move; move nothing.")

    def handle(self, *args, older_than: int, batch_size: int, dry_run: bool, **options):
        if older_than < 0 or batch_size < 1:
            raise CommandError(_("--older-than must be 0 or more and --batch-size at least 1"))
        total = services.archive_history(older_than_days=older_than, dry_run=True).remaining
        if dry_run:
            self.stdout.write(ngettext("Would archive %(n)d history row older than %(days)d days.",
                                       "Would archive %(n)d history rows older than %(days)d days.", total)
                              % {"n": total, "days": older_than})  # fmt: skip
            return
        bar = ProgressBar(self.stderr)
        report = services.archive_history(
            older_than_days=older_than, batch_size=batch_size, progress=lambda moved: bar("archiving", moved, total)
        )
        self.stdout.write(
            _("Archived %(rows)s in %(batches)s.")
            % {
                "rows": ngettext("%(n)d history row", "%(n)d history rows", report.moved) % {"n": report.moved},
                "batches": ngettext("%(n)d batch", "%(n)d batches", report.batches) % {"n": report.batches},
            }
        )
