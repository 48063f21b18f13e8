"""Re-encrypting every secret under the active key."""

from __future__ import annotations

import dataclasses

from ..core import crypto
from ..core.vocabulary import ENVIRONMENTS
from ..data import bulk
from ..data.audit import audit_context
from ..data.models import SystemConfiguration
from . import permissions
from .webhooks import endpoints as webhook_endpoints


@dataclasses.dataclass
class RotationReport:
    """What a key rotation found and did."""

    active_key: str
    rotated: int = 0
    encrypted_plaintext: int = 0
    already_current: int = 0
    webhook_secrets: int = 0
    failed: list[str] = dataclasses.field(default_factory=list)

    @property
    def changed(self) -> int:
        """How many values were re-encrypted or encrypted from the clear (or would be, in a dry run)."""
        return self.rotated + self.encrypted_plaintext + self.webhook_secrets


def rotate_encryption_keys(*, batch_size: int = 500, dry_run: bool = False, actor=None) -> RotationReport:
    """Re-encrypt every secret under the active key, in batches of one transaction each.

    Secrets under an older key are re-encrypted; secrets of password keys stored in the clear are
    encrypted; so are the webhooks' signing secrets. Idempotent: values already under the active key are
    left alone. A batch that fails rolls back alone; every row stays decryptable, and a re-run completes the
    work.
    """
    permissions.require_edit_each(actor, ENVIRONMENTS, doing="re-encrypt the secrets of")
    ring = crypto.keyring()
    if ring.active_id is None:
        raise crypto.EncryptionError("cannot rotate: CONFIG_ENCRYPTION_KEYS is not set")
    report = RotationReport(active_key=ring.active_id)
    last_id = 0
    while True:
        batch = list(_secret_rows().filter(id__gt=last_id).order_by("id")[:batch_size])
        if not batch:
            report.webhook_secrets, failed = webhook_endpoints.reencrypt_secrets(ring, dry_run=dry_run)
            report.failed += failed
            return report
        last_id = batch[-1].id
        todo = [row for row in batch if _needs_rotation(row, ring, report)]
        if todo and not dry_run:
            with audit_context(actor=actor, reason=f"Encryption key rotation to {ring.active_id}"):
                bulk.update(todo)


def _secret_rows():
    return SystemConfiguration.objects.secrets()


def _needs_rotation(row: SystemConfiguration, ring: crypto.Keyring, report: RotationReport) -> bool:
    where = row.label
    if row.config_value in (None, "") and not row.is_encrypted:
        return False
    if row.is_encrypted and crypto.envelope_key_id(row.config_value or "") == ring.active_id:
        report.already_current += 1
        return False
    try:
        text = row.plaintext()
    except crypto.DecryptionError as error:
        report.failed.append(f"{where}: {error}")
        return False
    if row.is_encrypted:
        report.rotated += 1
    else:
        report.encrypted_plaintext += 1
    row.config_value = crypto.encrypt(text, environment=row.environment, category=row.category, key=row.config_key)
    row.is_encrypted = True
    return True
