"""Export configurations as JSON, YAML or .env text; secrets masked unless asked for."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from configurations import services
from configurations.core import formats
from configurations.core.vocabulary import ENVIRONMENTS


class Command(BaseCommand):
    help = "Export active configurations. Secrets are masked unless --include-secrets is given."

    def add_arguments(self, parser):
        parser.add_argument("--environment", choices=ENVIRONMENTS)
        parser.add_argument("--category")
        parser.add_argument("--format", choices=formats.FORMATS, help="Default: from --output's name, else json.")
        parser.add_argument("--output", help="File to write (default: standard output).")
        parser.add_argument("--include-secrets", action="store_true", help="Export secrets in the clear.")

    def handle(self, *args, environment, category, format, output, include_secrets, **options):
        fmt = format or (formats.detect_format(output, None) if output and Path(output).suffix else "json")
        if include_secrets:
            self.stderr.write(
                self.style.WARNING(
                    "WARNING: secrets are exported in the clear. Protect the output and delete it when done."
                )
            )
        items = services.export_items(environment=environment, category=category, include_secrets=include_secrets)
        try:
            text = formats.dump(items, fmt)
        except formats.InputError as error:
            raise CommandError(str(error)) from None
        if output:
            path = Path(output)
            path.write_text(text, encoding="utf-8")
            if include_secrets:
                path.chmod(0o600)
            self.stderr.write(f"Exported {len(items)} configuration(s) to {output}.")
        else:
            self.stdout.write(text, ending="")
