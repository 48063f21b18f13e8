"""Export configurations as JSON, YAML or .env text; secrets masked unless asked for."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from configurations import services
from configurations.core import crypto, formats
from configurations.core.vocabulary import ENVIRONMENTS
from configurations.management.auditing import AuditedCommand


class Command(AuditedCommand):
    help = "Export active configurations. Secrets are masked unless --include-secrets is given."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--environment", choices=ENVIRONMENTS)
        parser.add_argument("--category")
        parser.add_argument("--format", choices=formats.FORMATS, help="Default: from --output's name, else json.")
        parser.add_argument("--output", help="File to write, created readable by you only (default: standard output).")
        parser.add_argument("--force", action="store_true", help="Replace --output if it exists.")
        parser.add_argument(
            "--include-secrets",
            action="store_true",
            help="Export secrets in the clear (with --actor: only of environments that user may edit).",
        )

    def handle(self, *args, environment, category, format, output, force, include_secrets, **options):
        fmt = format or (formats.detect_format(output, None) if output and Path(output).suffix else "json")
        if output and Path(output).exists() and not force:
            raise CommandError(_("%(output)s exists; give --force to replace it") % {"output": output})
        try:
            items = services.export_items(
                environment=environment, category=category, include_secrets=include_secrets, actor=self.actor
            )
            text = formats.dump(items, fmt)
        except formats.InputError as error:
            raise CommandError(str(error)) from None
        except crypto.DecryptionError as error:
            message = _("%(error)s. Check CONFIG_ENCRYPTION_KEYS (docs/encryption.md).") % {"error": error}
            raise CommandError(message) from None
        if include_secrets:
            self.stderr.write(
                self.style.WARNING(
                    _("WARNING: secrets are exported in the clear. Protect the output and delete it when done.")
                )
            )
        if output:
            _write_private(Path(output), text)
            self.stderr.write(ngettext("Exported %(n)d configuration to %(output)s.",
                                       "Exported %(n)d configurations to %(output)s.", len(items))
                              % {"n": len(items), "output": output})  # fmt: skip
        else:
            self.stdout.write(text, ending="")


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file that is never readable by others, at any moment.

    A temporary file is created 0600 beside the target and renamed over it, so an existing file is replaced
    in one step and a reader sees the old file or the new one, never a half-written or wider-readable one.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
