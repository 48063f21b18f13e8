"""Re-encrypt every secret under the active (first) key of CONFIG_ENCRYPTION_KEYS."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from configurations import services
from configurations.core import crypto
from configurations.management.auditing import AuditedCommand


class Command(AuditedCommand):
    help = "Re-encrypt every secret under the active key, in batches; safe to re-run."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; write nothing.")
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, dry_run: bool, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError(_("--batch-size must be at least 1"))
        try:
            report = services.rotate_encryption_keys(batch_size=batch_size, dry_run=dry_run, actor=self.actor)
        except crypto.EncryptionError as error:
            raise CommandError(str(error)) from None
        figures = {"key": report.active_key, "rotated": report.rotated, "plaintext": report.encrypted_plaintext,
                   "current": report.already_current, "failed": len(report.failed)}  # fmt: skip
        if dry_run:
            line = _("Active key %(key)s: would re-encrypt %(rotated)d, would encrypt %(plaintext)d stored in the "
                     "clear, %(current)d already current, %(failed)d failed.")  # fmt: skip
        else:
            line = _("Active key %(key)s: re-encrypted %(rotated)d, encrypted %(plaintext)d stored in the clear, "
                     "%(current)d already current, %(failed)d failed.")  # fmt: skip
        self.stdout.write(line % figures)
        if report.webhook_secrets:
            self.stdout.write(_("Webhook signing secrets re-encrypted: %(n)d.") % {"n": report.webhook_secrets})
        if report.failed:
            for failure in report.failed:
                self.stderr.write(f"  {failure}")
            raise CommandError(ngettext("%(n)d secret could not be decrypted with the configured keys.",
                                        "%(n)d secrets could not be decrypted with the configured keys.",
                                        len(report.failed)) % {"n": len(report.failed)})  # fmt: skip
