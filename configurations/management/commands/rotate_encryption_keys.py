"""Re-encrypt every secret under the active (first) key of CONFIG_ENCRYPTION_KEYS."""

from __future__ import annotations

from django.core.management.base import CommandError

from configurations import services
from configurations.core import crypto
from configurations.core.vocabulary import counted
from configurations.management.auditing import AuditedCommand


class Command(AuditedCommand):
    help = "Re-encrypt every secret under the active key, in batches; safe to re-run."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; write nothing.")
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, dry_run: bool, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            report = services.rotate_encryption_keys(batch_size=batch_size, dry_run=dry_run, actor=self.actor)
        except crypto.EncryptionError as error:
            raise CommandError(str(error)) from None
        verb = "would re-encrypt" if dry_run else "re-encrypted"
        self.stdout.write(
            f"Active key {report.active_key}: {verb} {report.rotated}, "
            f"{'would encrypt' if dry_run else 'encrypted'} {report.encrypted_plaintext} stored in the clear, "
            f"{report.already_current} already current, {len(report.failed)} failed."
        )
        if report.failed:
            for failure in report.failed:
                self.stderr.write(f"  {failure}")
            raise CommandError(
                f"{counted(len(report.failed), 'secret')} could not be decrypted with the configured keys."
            )
