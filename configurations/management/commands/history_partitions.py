"""Create the history's month partitions ahead and list them (PostgreSQL); idempotent, safe from cron."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from configurations.data.models import ConfigurationHistory
from configurations.services import partitions


class Command(BaseCommand):
    help = (
        "Create the month partitions of configuration_history for this month and --ahead months after it (and for "
        "any month whose rows the default partition caught, moving them in), then list every partition with its "
        "rows and size. Idempotent: run it from cron or at start-up (make serve does). On SQLite the history is one "
        "table and there is nothing to create."
    )

    def add_arguments(self, parser):
        parser.add_argument("--ahead", type=int, default=partitions.AHEAD, metavar="N", help="Default: 3 months.")
        parser.add_argument("--quiet", action="store_true", help="Print only what was created and any warning.")

    def handle(self, *args, ahead: int, quiet: bool, **options):
        if ahead < 0:
            raise CommandError(_("--ahead must be 0 or more"))
        if not partitions.is_partitioned():
            count = ConfigurationHistory.objects.count()
            self.stdout.write(_("The history is one table (%(n)d rows): partitions are PostgreSQL's; nothing to do.")
                              % {"n": count})  # fmt: skip
            return
        for name in partitions.ensure_partitions(ahead=ahead):
            self.stdout.write(_("Created %(name)s") % {"name": name})
        listed = partitions.partitions()
        if not quiet:
            for partition in listed:
                span = _("default") if partition.is_default else f"{partition.start:%Y-%m}"
                self.stdout.write(f"  {partition.name:<32} {span:<8} {partition.rows:>12} rows "
                                  f"{partition.size / 1048576:>10.1f} MB")  # fmt: skip
        held = sum(p.rows for p in listed if p.is_default)
        if held:
            self.stderr.write(_("Warning: the default partition holds %(n)d rows outside every month's partition.")
                              % {"n": held})  # fmt: skip
