"""Recompute the history's hash chain and report every edited, deleted or forged row."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from configurations import services
from configurations.management.progress import ProgressBar


class Command(BaseCommand):
    help = (
        "Check the configuration history's hash chain (history and archive), the metadata and template history's "
        "chains, and that every live configuration is what its latest history row records. Exits non-zero when a "
        "row was edited, deleted or inserted outside the trigger, or a configuration changed without a history row. "
        "Prints the head (ID:HASH) to pin outside the database."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect-head",
            metavar="ID:HASH",
            help="A head printed earlier: fail unless the trail still contains it (nobody rewrote it since).",
        )
        parser.add_argument(
            "--archive",
            action="store_true",
            help="Also read the history partitions archived whole (in the database or their export file) and check "
            "each against its checkpoint; without it their stretches of the chain are taken from the checkpoints.",
        )

    def handle(self, *args, expect_head: str | None, archive: bool, **options):
        try:
            expected = services.parse_head(expect_head) if expect_head else None
        except ValueError as error:
            raise CommandError(f"--expect-head: {error}") from None
        bar = ProgressBar(self.stderr)
        report = services.verify_history(
            expect_head=expected, progress=lambda rows: bar("verifying", rows, rows), archive=archive
        )
        for finding in report.findings:
            self.stdout.write(f"  {finding.kind:<10} {finding}")
        for table, rows in report.rows_per_table.items():
            found = sum(finding.table == table for finding in report.findings)
            head = report.heads.get(table)
            verdict = _("ok") if not found else ngettext("%(n)d finding", "%(n)d findings", found) % {"n": found}
            shown = f"{head[0]}:{head[1]}" if head else _("(empty)")
            rows_text = ngettext("%(n)d row", "%(n)d rows", rows) % {"n": rows}
            if table not in report.heads:  # an archived partition: a stretch of the history's chain
                self.stdout.write(f"  {table}: {rows_text}, {verdict}")
                continue
            self.stdout.write(_("  %(table)s: %(rows)s, %(verdict)s, head %(head)s") % {
                "table": table, "rows": rows_text, "verdict": verdict, "head": shown})  # fmt: skip
        if report.archived_rows:
            stepped = ngettext("  archived partitions: %(n)d row taken from its checkpoint (--archive reads it)",
                               "  archived partitions: %(n)d rows taken from their checkpoints (--archive reads them)",
                               report.archived_rows)  # fmt: skip
            self.stdout.write(stepped % {"n": report.archived_rows})
        checked = ngettext("Checked %(n)d history row. Head: %(head)s", "Checked %(n)d history rows. Head: %(head)s",
                           report.rows)  # fmt: skip
        self.stdout.write(checked % {"n": report.rows, "head": report.head_text})
        if report.expected_head_found is False:
            raise CommandError(_("the trail no longer contains the head %(head)s: it was rewritten from before it")
                               % {"head": expect_head})  # fmt: skip
        if report.findings:
            raise CommandError(ngettext("the history cannot be trusted: %(n)d finding above",
                                        "the history cannot be trusted: %(n)d findings above", len(report.findings))
                               % {"n": len(report.findings)})  # fmt: skip
