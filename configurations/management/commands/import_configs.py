"""Import configurations from JSON, YAML, a .env file or the process environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from configurations import services
from configurations.core import dotenv, formats
from configurations.core.vocabulary import ENVIRONMENTS, Outcome
from configurations.management.auditing import AuditedCommand
from configurations.management.progress import ProgressBar


class Command(AuditedCommand):
    help = "Import configurations (all or nothing). Every problem is listed with where it is."
    reviewable = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("path", nargs="?", help="A file, or - for standard input.")
        parser.add_argument("--format", choices=formats.FORMATS, help="Default: from the file name.")
        parser.add_argument(
            "--environment",
            choices=ENVIRONMENTS,
            help="Only this environment (JSON/YAML); the target environment (.env, --from-environ).",
        )
        parser.add_argument("--category", help="Only this category.")
        parser.add_argument("--dry-run", action="store_true", help="Print the plan; write nothing.")
        parser.add_argument("--on-conflict", choices=["overwrite", "skip", "abort"], default="overwrite")
        parser.add_argument("--reason", help="Recorded in the history (default: 'Import of <source>').")
        parser.add_argument(
            "--from-environ", action="store_true", help="Read CATEGORY_KEY variables from the environment."
        )
        parser.add_argument("--prefix", default="", help="With --from-environ: only variables starting with this.")

    def handle(
        self, *args, path, format, environment, category, dry_run, on_conflict, reason, from_environ, prefix, **options
    ):
        try:
            parsed, source = self._parse(path, format, environment, from_environ, prefix)
        except formats.InputError as error:
            raise CommandError(self._listing(_("the input cannot be read"), [str(p) for p in error.problems])) from None
        records, skipped = self._filter(parsed, environment, category)
        if options["change_request"]:
            title = options["title"] or _("Import of %(source)s") % {"source": source}
            return self._request(records, skipped, on_conflict, reason, title)
        try:
            report = services.import_records(
                records,
                on_conflict=on_conflict,
                dry_run=dry_run,
                actor=self.actor,
                reason=reason or f"Import of {source}",
                progress=ProgressBar(self.stderr),
            )
        except services.ImportRejected as error:
            raise CommandError(self._listing(_("nothing was imported"), error.messages)) from None
        self._print(report, skipped + report.skipped, dry_run)

    def _request(self, records, skipped, on_conflict, reason, title):
        try:
            opened, report = services.import_as_requests(
                records, on_conflict=on_conflict, actor=self.actor, title=title, reason=reason or ""
            )
        except services.ImportRejected as error:
            raise CommandError(self._listing(_("no change request was opened"), error.messages)) from None
        for line in skipped + report.skipped:
            self.stdout.write(f"  skipped   {line}")
        if not opened:
            self.stdout.write(_("Nothing would change, so no change request was opened."))
        self.report_opened(opened)

    def _parse(self, path, fmt, environment, from_environ, prefix):
        if from_environ:
            if path:
                raise CommandError(_("give either a PATH or --from-environ, not both"))
            target = self._require_environment(environment, "--from-environ")
            known = services.known_env_names()
            return dotenv.parse_environ(os.environ, prefix=prefix, environment=target, known=known), "environment"
        if not path:
            raise CommandError(_("give a PATH (or - for standard input), or --from-environ"))
        source = "<stdin>" if path == "-" else path
        fmt = formats.detect_format(source, fmt) if path != "-" or fmt else "json"
        text = formats.decode(self._read(path), source)
        if fmt == "env":
            target = self._require_environment(environment, "the env format")
            return dotenv.parse_env(text, source, environment=target, known=services.known_env_names()), source
        return formats.parse_structured(text, fmt, source, environments=ENVIRONMENTS), source

    def _read(self, path: str) -> bytes:
        limit = formats.max_input_bytes() + 1  # read one byte more than allowed, so decode() can refuse it
        if path == "-":
            return sys.stdin.buffer.read(limit)
        try:
            with Path(path).open("rb") as handle:
                return handle.read(limit)
        except OSError as error:
            raise CommandError(f"{path}: {error.strerror}") from None

    @staticmethod
    def _require_environment(environment, what: str) -> str:
        if not environment:
            raise CommandError(_("%(what)s has no environment level: give --environment") % {"what": what})
        return environment

    @staticmethod
    def _filter(parsed: formats.Parsed, environment, category):
        kept, skipped = [], [str(p) for p in parsed.skipped]
        for record in parsed.records:
            if (environment and record.environment != environment) or (category and record.category != category):
                skipped.append(f"{record.where}: not in --environment/--category, skipped")
            else:
                kept.append(record)
        return kept, skipped

    def _print(self, report: services.ImportReport, skipped: list[str], dry_run: bool) -> None:
        if dry_run:
            self.stdout.write(_("Dry run: nothing was written. The plan:"))
            for plan in report.plans:
                shown = services.SECRET_MASK if plan.secret else _one_line(plan.text)
                self.stdout.write(
                    f"  {Outcome(plan.outcome).label:<9} {plan.change.label} = {shown} ({plan.value_type})"
                )
        for line in skipped:
            self.stdout.write(f"  skipped   {line}")
        counts = {
            name: sum(1 for p in report.plans if Outcome(p.outcome).label == name)
            for name in ("added", "changed", "unchanged")
        }
        counts["skipped"] = len(skipped)
        if dry_run:
            line = _("Would import: %(added)d added, %(changed)d changed, %(unchanged)d unchanged, "
                     "%(skipped)d skipped.")  # fmt: skip
        else:
            line = _("Imported: %(added)d added, %(changed)d changed, %(unchanged)d unchanged, %(skipped)d skipped.")
        self.stdout.write(line % counts)

    @staticmethod
    def _listing(headline: str, problems: list[str]) -> str:
        count = ngettext("%(n)d problem", "%(n)d problems", len(problems)) % {"n": len(problems)}
        return f"{headline}; {count}:\n  " + "\n  ".join(problems)


def _one_line(text: str, limit: int = 80) -> str:
    flat = text.replace("\\", "\\\\").replace("\n", "\\n")
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
