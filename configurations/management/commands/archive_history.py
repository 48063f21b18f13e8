"""Archive old history: whole month partitions on PostgreSQL (checkpointed in the chain, optionally exported to a
file), rows moved to configuration_history_archive in batches elsewhere (resumable either way)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from configurations import services
from configurations.management.progress import ProgressBar
from configurations.services import partitions


class Command(BaseCommand):
    help = (
        "Archive history older than --older-than days. On PostgreSQL's partitioned history: every month partition "
        "that ends before the cut-off, whole, behind a checkpoint row in the chain (a partition holding newer rows "
        "stays); elsewhere: rows moved to configuration_history_archive, one transaction per batch."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=730, metavar="DAYS", help="Default: 730 (two years).")
        parser.add_argument("--batch-size", type=int, default=10_000)
        parser.add_argument("--dry-run", action="store_true", help="Count what would move; move nothing.")
        parser.add_argument(
            "--export",
            metavar="PATH",
            help="PostgreSQL: write the archived partitions to PATH (JSON Lines with their checkpoints, mode 0600, "
            "never over an existing file), then drop them from the database. Needs the owner role.",
        )

    def handle(self, *args, older_than: int, batch_size: int, dry_run: bool, export: str | None, **options):
        if older_than < 0 or batch_size < 1:
            raise CommandError(_("--older-than must be 0 or more and --batch-size at least 1"))
        whole = partitions.is_partitioned()  # whole months: rows are counted ahead only for a dry run
        try:
            total = 0
            if dry_run or not whole:
                total = services.archive_history(older_than_days=older_than, dry_run=True, export_to=export).remaining
            if dry_run:
                self.stdout.write(ngettext("Would archive %(n)d history row older than %(days)d days.",
                                           "Would archive %(n)d history rows older than %(days)d days.", total)
                                  % {"n": total, "days": older_than})  # fmt: skip
                return
            bar = ProgressBar(self.stderr)
            report = services.archive_history(
                older_than_days=older_than,
                batch_size=batch_size,
                progress=lambda moved: bar("archiving", moved, max(total, moved)),
                export_to=export,
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        if whole:
            self._partitions(report)
            return
        self.stdout.write(
            _("Archived %(rows)s in %(batches)s.")
            % {
                "rows": ngettext("%(n)d history row", "%(n)d history rows", report.moved) % {"n": report.moved},
                "batches": ngettext("%(n)d batch", "%(n)d batches", report.batches) % {"n": report.batches},
            }
        )

    def _partitions(self, report) -> None:
        for name in report.partitions:
            self.stdout.write(_("  %(name)s: archived") % {"name": name})
        rows = ngettext("%(n)d history row", "%(n)d history rows", report.moved) % {"n": report.moved}
        parts = ngettext("%(n)d partition", "%(n)d partitions", report.batches) % {"n": report.batches}
        self.stdout.write(_("Archived %(rows)s in %(partitions)s.") % {"rows": rows, "partitions": parts})
        if report.checkpoints:
            shown = ", ".join(f"#{checkpoint}" for checkpoint in report.checkpoints)
            self.stdout.write(_("Checkpoints in the chain: %(ids)s.") % {"ids": shown})
        if report.exported_to:
            self.stdout.write(_("Exported to %(path)s and dropped from the database.") % {"path": report.exported_to})
