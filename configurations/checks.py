"""System checks: encryption keys are well-formed, and every stored secret has its key."""

from __future__ import annotations

from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError

from .core import crypto
from .core.vocabulary import ENVELOPE_PREFIX, label
from .data import secret_patterns
from .data.models import ConfigurationMetadata, ConfigurationTemplate, SystemConfiguration
from .services import partitions


@register(Tags.security)
def check_encryption_keys(app_configs=None, **kwargs) -> list[Error]:
    """An error when CONFIG_ENCRYPTION_KEYS cannot be read as keys."""
    try:
        crypto.keyring()
    except crypto.KeyConfigurationError as error:
        return [
            Error(
                str(error), hint="Generate an entry with: manage.py generate_encryption_key", id="configurations.E001"
            )
        ]
    return []


@register(Tags.database)
def check_secrets_are_decryptable(app_configs=None, databases=None, **kwargs) -> list[Error]:
    """One sample secret per key id must decrypt with the configured keys."""
    if not databases or "default" not in databases:
        return []
    try:
        ring = crypto.keyring()
    except crypto.KeyConfigurationError:
        return []  # reported by check_encryption_keys
    try:
        samples = _one_secret_per_key(SystemConfiguration)
    except DatabaseError:
        return []  # tables not migrated yet
    errors = []
    for key_id, row in samples.items():
        try:
            row.plaintext()
        except crypto.DecryptionError as error:
            where = label(row.category, row.config_key, row.environment)
            known = ", ".join(ring.keys) or "none"
            errors.append(
                Error(
                    f"Encrypted configurations exist that no configured key can decrypt (key {key_id!r}, "
                    f"e.g. {where}): {error}",
                    hint=f"Add the key {key_id!r} to CONFIG_ENCRYPTION_KEYS (configured: {known}).",
                    id="configurations.E002",
                )
            )
    return errors


def _one_secret_per_key(model) -> dict[str, object]:
    samples: dict[str, object] = {}
    for row in (
        model.objects.filter(is_encrypted=True)
        .only("category", "config_key", "environment", "config_value", "is_encrypted")
        .iterator()
    ):
        key_id = crypto.envelope_key_id(row.config_value or "") or "(not an envelope)"
        samples.setdefault(key_id, row)
    return samples


@register()
def check_configuration_names(app_configs=None, **kwargs) -> list[Warning]:
    """Rows stored before the naming rule existed are reported, never rewritten (migration 0010)."""
    found = []
    try:
        for model in (SystemConfiguration, ConfigurationMetadata, ConfigurationTemplate):
            for constraint in model._meta.constraints:
                if constraint.name.endswith("_name"):
                    field = constraint.condition.children[0][0].removesuffix("__regex")
                    bad = model.objects.exclude(constraint.condition).values_list(field, flat=True).distinct()
                    found += [f"{model._meta.db_table}.{field} {name!r}" for name in bad[:10]]
    except DatabaseError:
        return []  # tables not migrated yet
    if not found:
        return []
    return [
        Warning(
            "Stored names break the naming rule (letters, digits, '_', '-', '.', starting with a letter or a digit) "
            "and cannot be shown or edited everywhere: " + "; ".join(found[:10]),
            hint="Rename them: copy each value to a key with a valid name, then delete the old one.",
            id="configurations.W003",
        )
    ]


@register(Tags.security, Tags.database)
def check_secrets_are_encrypted(app_configs=None, databases=None, **kwargs) -> list[Warning]:
    """Secrets stored in the clear before the database refused them (migration 0017), and stale patterns."""
    if not databases or "default" not in databases:
        return []
    try:
        in_step = secret_patterns.in_step()
        plaintext = list(
            SystemConfiguration.objects.secrets()
            .filter(is_encrypted=False)
            .exclude(config_value__isnull=True)
            .exclude(config_value="")
            .exclude(config_value__startswith=ENVELOPE_PREFIX)
            .order_by("environment", "category", "config_key")
            .values_list("category", "config_key", "environment")[:11]
        )
    except DatabaseError:
        return []  # tables not migrated yet
    found = []
    if not in_step:
        found.append(
            Warning(
                "The database checks other secret key patterns than CONFIG_SECRET_KEY_PATTERNS says.",
                hint="Run manage.py migrate (as the owner): it copies the setting's patterns into the database.",
                id="configurations.W004",
            )
        )
    if plaintext:
        names = ", ".join(label(*row) for row in plaintext[:10]) + (" and more" if len(plaintext) > 10 else "")
        found.append(
            Warning(
                f"Secrets are stored in the clear (by their name or their password metadata): {names}. They are "
                "served as secrets, never shown, but the database holds their plaintext.",
                hint="Encrypt them: manage.py rotate_encryption_keys --actor USERNAME",
                id="configurations.W005",
            )
        )
    return found


@register(Tags.database)
def check_history_partitions(app_configs=None, databases=None, **kwargs) -> list[Warning]:
    """History rows the default partition caught: no month's partition was there for them (PostgreSQL)."""
    if not databases or "default" not in databases:
        return []
    try:
        held = partitions.default_rows()
    except DatabaseError:
        return []  # tables not migrated yet
    if not held:
        return []
    return [
        Warning(
            f"The history's default partition holds {held} rows: no month partition was there for them, so archiving "
            "by partition cannot move them and queries of their month read the default partition too.",
            hint="Run manage.py history_partitions (from cron, or at start-up as make serve does): it creates the "
            "missing months and moves these rows into them.",
            id="configurations.W006",
        )
    ]
