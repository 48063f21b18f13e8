"""Writes and typed reads of configurations: the public service contract.

Everything that changes configurations (the admin, templates, imports, commands, scripts) calls
these functions; they validate with the one engine (``validation``), type with ``values``, encrypt
secrets with ``crypto`` and write inside one transaction with the audit context, so the history
triggers record who, why and from where.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from . import bulk, crypto, formats, templates_engine, validation, values
from .audit import audit_context
from .models import (
    ConfigurationHistory,
    ConfigurationHistoryArchive,
    ConfigurationMetadata,
    ConfigurationTemplate,
    Environment,
    InputType,
    SentTestEmail,
    SystemConfiguration,
)


class ConfigurationNotFound(SystemConfiguration.DoesNotExist, KeyError):
    """No active configuration for this category, key and environment."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "configuration not found"


def label(category: str, key: str, environment: str) -> str:
    """How messages name a configuration: ``category.key [environment]``."""
    return f"{category}.{key} [{environment}]"


@dataclasses.dataclass(frozen=True)
class Change:
    """A requested value for one configuration."""

    category: str
    key: str
    environment: str
    value: Any
    value_type: str | None = None
    is_encrypted: bool | None = None

    @property
    def label(self) -> str:
        return label(self.category, self.key, self.environment)


@dataclasses.dataclass
class PlannedChange:
    """What writing a Change will do: ``add``, ``change``, ``reactivate`` or ``unchanged``."""

    change: Change
    row: SystemConfiguration | None
    text: str
    value_type: str
    secret: bool
    outcome: str

    @property
    def writes(self) -> bool:
        return self.outcome != "unchanged"


# --------------------------------------------------------------------------------- reads


def get_value(*, category: str, key: str, environment: str) -> Any:
    """The typed, decrypted value of the active configuration; ConfigurationNotFound if none."""
    try:
        row = SystemConfiguration.objects.active().get(category=category, config_key=key, environment=environment)
    except SystemConfiguration.DoesNotExist:
        raise ConfigurationNotFound(f"no active configuration {label(category, key, environment)}") from None
    return typed_value(row)


def typed_value(row: SystemConfiguration) -> Any:
    """The Python value of a row: decrypted if it is a secret, parsed by its value_type."""
    return values.parse(row.value_type, plaintext(row))


def plaintext(row: SystemConfiguration) -> str | None:
    """The row's stored text, decrypted if it is encrypted (DecryptionError if it cannot be)."""
    if row.is_encrypted and row.config_value is not None:
        return crypto.decrypt(row.config_value, environment=row.environment, category=row.category, key=row.config_key)
    return row.config_value


# -------------------------------------------------------------------------------- writes


def set_value(
    *,
    category: str,
    key: str,
    environment: str,
    value: Any,
    actor=None,
    reason: str | None = None,
    value_type: str | None = None,
    is_encrypted: bool | None = None,
) -> SystemConfiguration:
    """Validate, type, encrypt and write one value in one audited transaction; return the row.

    ``value_type`` None keeps an existing row's type; a new row takes it from the metadata's
    input_type (number, checkbox -> boolean), else string. Raises ValidationError naming the key.
    """
    change = Change(category, key, environment, value, value_type, is_encrypted)
    [planned] = apply_changes([change], actor=actor, reason=reason)
    return planned.row


def apply_changes(
    changes: Sequence[Change], *, actor=None, reason: str | None = None, ip_address=None, user_agent=None
) -> list[PlannedChange]:
    """Validate every change, then write those that change something, all in one transaction.

    Nothing is written if any change is invalid: the ValidationError lists every problem, keyed by
    ``category.key [environment]``. Unchanged values are not written, so they leave no history.
    """
    context = {"actor": actor, "reason": reason, "ip_address": ip_address, "user_agent": user_agent}
    with audit_context(**context):
        plans = plan_changes(changes, lock=True)
        _write(plans)
    return plans


def plan_changes(changes: Sequence[Change], *, lock: bool = False, progress=None) -> list[PlannedChange]:
    """What ``apply_changes`` would do, without writing; ValidationError if anything is invalid."""
    _refuse_duplicates(changes)
    metadata = _metadata_for(changes)
    rows = _rows_for(changes, lock=lock)
    plans, errors = [], {}
    for position, change in enumerate(changes, start=1):
        if progress and position % 500 == 0:
            progress("validating", position, len(changes))
        meta = metadata.get((change.category, change.key))
        row = rows.get((change.category, change.key, change.environment))
        try:
            plans.append(_plan(change, meta, row))
        except ValidationError as error:
            errors[change.label] = error.error_list
    if errors:
        raise ValidationError(errors)
    return plans


def deactivate(*, category: str, key: str, environment: str, actor=None, reason: str | None = None) -> int:
    """The spec's soft delete: ``is_active = false``. Returns how many rows it changed (0 or 1)."""
    with audit_context(actor=actor, reason=reason):
        return SystemConfiguration.objects.filter(
            category=category, config_key=key, environment=environment, is_active=True
        ).update(is_active=False)


def problems_for(row: SystemConfiguration) -> list[ValidationError]:
    """Validation errors of a row as it stands (used by model validation)."""
    meta = ConfigurationMetadata.objects.filter(category=row.category, config_key=row.config_key).first()
    value = row.config_value
    if row.is_encrypted and crypto.is_envelope(value):
        try:
            value = plaintext(row)
        except crypto.DecryptionError as error:
            return [ValidationError(str(error), code="decrypt")]
    change = Change(row.category, row.config_key, row.environment, value, row.value_type, row.is_encrypted)
    try:
        _plan(change, meta, None)
    except ValidationError as error:
        return error.error_list
    return []


# ------------------------------------------------------------------------------- helpers


def _refuse_duplicates(changes: Sequence[Change]) -> None:
    seen: set[str] = set()
    duplicates = {c.label for c in changes if c.label in seen or seen.add(c.label)}
    if duplicates:
        raise ValidationError(
            {name: [ValidationError(f"{name}: given more than once", code="duplicate")] for name in sorted(duplicates)}
        )


def _metadata_for(changes: Iterable[Change]) -> dict[tuple[str, str], ConfigurationMetadata]:
    pairs = {(c.category, c.key) for c in changes}
    if not pairs:
        return {}
    query = Q()
    for category in {category for category, _ in pairs}:
        query |= Q(category=category, config_key__in=[key for cat, key in pairs if cat == category])
    return {(m.category, m.config_key): m for m in ConfigurationMetadata.objects.filter(query)}


def _rows_for(changes: Iterable[Change], *, lock: bool) -> dict[tuple[str, str, str], SystemConfiguration]:
    triples = {(c.category, c.key, c.environment) for c in changes}
    if not triples:
        return {}
    query = Q()
    for category, environment in {(cat, env) for cat, _, env in triples}:
        keys = [key for cat, key, env in triples if (cat, env) == (category, environment)]
        query |= Q(category=category, environment=environment, config_key__in=keys)
    rows = SystemConfiguration.objects.filter(query)
    if lock:
        rows = rows.select_for_update()
    return {(r.category, r.config_key, r.environment): r for r in rows}


def _type_for(change: Change, meta: ConfigurationMetadata | None, row: SystemConfiguration | None) -> str:
    if change.value_type is not None:
        return change.value_type
    if row is not None:
        return row.value_type
    if meta is not None and meta.input_type == InputType.NUMBER:
        return "number"
    if meta is not None and meta.input_type == InputType.CHECKBOX:
        return "boolean"
    return "string"


def _error(change: Change, message: str, code: str) -> ValidationError:
    return ValidationError(f"{change.label}: {message}", code=code)


def _plan(change: Change, meta: ConfigurationMetadata | None, row: SystemConfiguration | None) -> PlannedChange:
    if change.environment not in Environment.values:
        raise ValidationError(
            [_error(change, f"unknown environment; use one of {', '.join(Environment.values)}", "environment")]
        )
    value_type = _type_for(change, meta, row)
    text = _canonical_text(change, value_type)
    rules = meta.validation_rules if meta else None
    numeric = value_type == "number" or (meta is not None and meta.input_type == InputType.NUMBER)
    found = validation.problems(text, rules, numeric=numeric, required=bool(meta and meta.is_required))
    if found:
        raise ValidationError([_error(change, str(problem), problem.rule) for problem in found])
    secret = bool(change.is_encrypted) or (meta is not None and meta.input_type == InputType.PASSWORD)
    secret = secret or (change.is_encrypted is None and row is not None and row.is_encrypted)
    if secret and crypto.keyring().active_id is None:
        raise ValidationError(
            [_error(change, "cannot store a secret: CONFIG_ENCRYPTION_KEYS is not set", "encryption")]
        )
    return PlannedChange(change, row, text, value_type, secret, _outcome(row, text, value_type, secret))


def _canonical_text(change: Change, value_type: str) -> str:
    if change.value is None or change.value == "":
        return ""
    try:
        return values.to_text(value_type, change.value)
    except values.ValueTypeError as error:
        raise ValidationError([_error(change, f"{error} (type {value_type})", "type")]) from None


def _outcome(row: SystemConfiguration | None, text: str, value_type: str, secret: bool) -> str:
    if row is None:
        return "add"
    same_shape = row.value_type == value_type and row.is_encrypted == secret
    if same_shape and _stored_equals(row, text):
        return "unchanged" if row.is_active else "reactivate"
    return "change"


def _stored_equals(row: SystemConfiguration, text: str) -> bool:
    if not row.is_encrypted:
        return row.config_value == text
    try:
        return plaintext(row) == text
    except crypto.DecryptionError:
        return False  # an undecryptable secret is replaced, never compared


def _write(plans: list[PlannedChange], progress=None) -> None:
    new_rows, changed_rows = [], []
    for plan in plans:
        if not plan.writes:
            continue
        change = plan.change
        stored = plan.text
        if plan.secret and plan.outcome != "reactivate":
            stored = crypto.encrypt(plan.text, environment=change.environment, category=change.category, key=change.key)
        if plan.row is None:
            plan.row = SystemConfiguration(
                category=change.category, config_key=change.key, environment=change.environment
            )
            new_rows.append(plan.row)
        else:
            changed_rows.append(plan.row)
        if plan.outcome != "reactivate":
            plan.row.config_value = stored
        plan.row.value_type, plan.row.is_encrypted, plan.row.is_active = plan.value_type, plan.secret, True
    bulk.insert(new_rows)
    bulk.update(changed_rows)
    if progress:
        progress("writing", len(new_rows) + len(changed_rows), len(new_rows) + len(changed_rows))


# ---------------------------------------------------------------------------- key rotation


@dataclasses.dataclass
class RotationReport:
    """What a key rotation found and did."""

    active_key: str
    rotated: int = 0
    encrypted_plaintext: int = 0
    already_current: int = 0
    failed: list[str] = dataclasses.field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.rotated + self.encrypted_plaintext


def rotate_encryption_keys(*, batch_size: int = 500, dry_run: bool = False, actor=None) -> RotationReport:
    """Re-encrypt every secret under the active key, in batches of one transaction each.

    Secrets under an older key are re-encrypted; secrets of password keys stored in the clear are
    encrypted. Idempotent: values already under the active key are left alone. A batch that fails
    rolls back alone; every row stays decryptable, and a re-run completes the work.
    """
    ring = crypto.keyring()
    if ring.active_id is None:
        raise crypto.EncryptionError("cannot rotate: CONFIG_ENCRYPTION_KEYS is not set")
    report = RotationReport(active_key=ring.active_id)
    last_id = 0
    while True:
        batch = list(_secret_rows().filter(id__gt=last_id).order_by("id")[:batch_size])
        if not batch:
            return report
        last_id = batch[-1].id
        todo = [row for row in batch if _needs_rotation(row, ring, report)]
        if todo and not dry_run:
            with audit_context(actor=actor, reason=f"Encryption key rotation to {ring.active_id}"):
                bulk.update(todo)


def _secret_rows():
    return SystemConfiguration.objects.with_secret_flag().filter(is_secret=True)


def _needs_rotation(row: SystemConfiguration, ring: crypto.Keyring, report: RotationReport) -> bool:
    where = label(row.category, row.config_key, row.environment)
    if row.config_value in (None, "") and not row.is_encrypted:
        return False
    if row.is_encrypted and crypto.envelope_key_id(row.config_value or "") == ring.active_id:
        report.already_current += 1
        return False
    try:
        text = plaintext(row) if row.is_encrypted else row.config_value
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


# ---------------------------------------------------------------------------- environments


def copy_values(
    *, category: str, keys: Sequence[str], source: str, target: str, actor=None, reason: str | None = None
) -> list[PlannedChange]:
    """Copy the active values of ``keys`` from one environment to another, as one audited change.

    Secrets are decrypted from the source row and encrypted again for the target row.
    """
    rows = SystemConfiguration.objects.active().filter(category=category, environment=source, config_key__in=keys)
    by_key = {row.config_key: row for row in rows}
    missing = sorted(set(keys) - set(by_key))
    if missing:
        raise ValidationError(
            [ValidationError(f"{label(category, k, source)}: no active value to copy", code="missing") for k in missing]
        )
    changes = [
        Change(category, key, target, plaintext(row), row.value_type, row.is_encrypted or None)
        for key, row in sorted(by_key.items())
    ]
    return apply_changes(changes, actor=actor, reason=reason)


# ------------------------------------------------------------------------------ templates


@dataclasses.dataclass
class TemplateApplication:
    """A provider template planned (or applied) for one environment."""

    template: ConfigurationTemplate
    environment: str
    plans: list[PlannedChange]

    def preview(self) -> list[dict]:
        """Key by key: status (new, changed, same), current and new value, secrets masked."""
        status = {"add": "new", "change": "changed", "reactivate": "changed", "unchanged": "same"}
        rows = []
        for plan in self.plans:
            current = None
            if plan.row is not None and plan.row.is_active:
                current = SECRET_MASK if plan.secret else plan.row.config_value
            rows.append(
                {
                    "key": plan.change.key,
                    "status": status[plan.outcome],
                    "secret": plan.secret,
                    "current": current,
                    "new": SECRET_MASK if plan.secret else plan.text,
                }
            )
        return rows


SECRET_MASK = "••••••••"


def secret_variables(template: ConfigurationTemplate) -> set[str]:
    """Variables that fill a key whose metadata marks it a password."""
    data = template.template_data
    password_keys = set(
        ConfigurationMetadata.objects.filter(category=template.category, input_type=InputType.PASSWORD).values_list(
            "config_key", flat=True
        )
    )
    return {
        v.name
        for v in templates_engine.variables(data)
        if set(templates_engine.keys_using(data, v.name)) & password_keys
    }


def plan_template(*, provider: str, category: str, environment: str, variables: dict[str, str]) -> TemplateApplication:
    """Validate a template application without writing; ValidationError names what is wrong."""
    template, changes = _template_changes(provider, category, environment, variables)
    return TemplateApplication(template, environment, _plan_or_explain(template, changes))


def apply_template(
    *,
    provider: str,
    category: str,
    environment: str,
    variables: dict[str, str],
    actor=None,
    reason: str | None = None,
    dry_run: bool = False,
) -> TemplateApplication:
    """Apply a provider template to an environment: all keys in one transaction, or none.

    Values are checked against the variables' own rules and the target keys' metadata rules; secret keys
    are encrypted; keys not in the template are untouched; applying the same values again writes nothing.
    """
    if dry_run:
        return plan_template(provider=provider, category=category, environment=environment, variables=variables)
    template, changes = _template_changes(provider, category, environment, variables)
    with audit_context(actor=actor, reason=reason or f"Applied template {template.provider_name}"):
        plans = _plan_or_explain(template, changes, lock=True)
        _write(plans)
    return TemplateApplication(template, environment, plans)


def _template_changes(provider: str, category: str, environment: str, given: dict[str, str]):
    template = ConfigurationTemplate.objects.filter(provider_name=provider, category=category, is_active=True).first()
    if template is None:
        known = ", ".join(
            ConfigurationTemplate.objects.filter(category=category, is_active=True).values_list(
                "provider_name", flat=True
            )
        )
        raise ValidationError(
            f"unknown provider {provider!r} for category {category!r} (available: {known or 'none'})", code="provider"
        )
    if environment not in Environment.values:
        raise ValidationError(
            f"unknown environment {environment!r}; use one of {', '.join(Environment.values)}", code="environment"
        )
    problems = templates_engine.variable_problems(template.template_data, given, template=provider)
    if problems:
        raise ValidationError([ValidationError(p, code="variable") for p in problems])
    rendered = templates_engine.render(template.template_data, given)
    return template, [Change(category, key, environment, value) for key, value in rendered.items()]


def _plan_or_explain(template: ConfigurationTemplate, changes: list[Change], *, lock: bool = False):
    """plan_changes, with each key's errors also naming the variables that fill it."""
    try:
        return plan_changes(changes, lock=lock)
    except ValidationError as error:
        data = template.template_data
        messages = []
        for change in changes:
            for problem in error.error_dict.get(change.label, []):
                names = templates_engine.PLACEHOLDER.findall(data["configs"][change.key])
                via = f" (from variable {', '.join(names)})" if names else ""
                messages.append(ValidationError(f"{problem.message}{via}", code=problem.code))
        raise ValidationError(messages) from None


# ------------------------------------------------------------------------- import / export


@dataclasses.dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    plans: list[PlannedChange]
    skipped: list[str]
    dry_run: bool

    def count(self, outcome: str) -> int:
        return sum(1 for plan in self.plans if plan.outcome == outcome)

    @property
    def written(self) -> int:
        return sum(1 for plan in self.plans if plan.writes)


class ImportRejected(ValidationError):
    """Every problem of an import, each starting with where it is (file and path or line)."""


def import_records(
    records: Sequence[formats.Record],
    *,
    on_conflict: str = "overwrite",
    dry_run: bool = False,
    actor=None,
    reason: str | None = None,
    progress=None,
) -> ImportReport:
    """Import records in one transaction: validated first, written all or nothing.

    ``on_conflict``: ``overwrite`` replaces existing values, ``skip`` keeps them, ``abort`` refuses the whole
    import if any existing value would change. Masked secrets (from an export without secrets) are skipped.
    Re-importing the same input changes nothing.
    """
    if on_conflict not in ("overwrite", "skip", "abort"):
        raise ValueError(f"on_conflict must be overwrite, skip or abort, not {on_conflict!r}")
    skipped = [
        f"{r.where}: {label(r.category, r.key, r.environment)}: secret not in the export, kept"
        for r in records
        if r.masked
    ]
    wanted = [r for r in records if not r.masked]
    with audit_context(actor=actor, reason=reason or "Import"):
        if on_conflict == "skip":
            existing = _rows_for(_changes_of(wanted), lock=False)
            skipped += [
                f"{r.where}: {label(r.category, r.key, r.environment)}: exists, kept (--on-conflict skip)"
                for r in wanted
                if (r.category, r.key, r.environment) in existing
            ]
            wanted = [r for r in wanted if (r.category, r.key, r.environment) not in existing]
        plans = _plan_records(wanted, lock=not dry_run, progress=progress)
        if on_conflict == "abort":
            _refuse_conflicts(wanted, plans)
        if not dry_run:
            _write(plans, progress=progress)
    return ImportReport(plans, skipped, dry_run)


def _changes_of(records: Sequence[formats.Record]) -> list[Change]:
    return [Change(r.category, r.key, r.environment, r.value, r.value_type, r.is_encrypted) for r in records]


def _plan_records(records: Sequence[formats.Record], *, lock: bool, progress=None) -> list[PlannedChange]:
    try:
        return plan_changes(_changes_of(records), lock=lock, progress=progress)
    except ValidationError as error:
        where = {label(r.category, r.key, r.environment): r.where for r in records}
        messages = [
            f"{where.get(name, name)}: {e.message}" for name, errors in error.error_dict.items() for e in errors
        ]
        raise ImportRejected(messages) from None


def _refuse_conflicts(records: Sequence[formats.Record], plans: list[PlannedChange]) -> None:
    conflicts = [
        f"{record.where}: {plan.change.label}: exists with a different value (--on-conflict abort)"
        for record, plan in zip(records, plans, strict=True)
        if plan.row is not None and plan.outcome != "unchanged"
    ]
    if conflicts:
        raise ImportRejected(conflicts)


def export_items(
    *, environment: str | None = None, category: str | None = None, include_secrets: bool = False
) -> list[formats.ExportItem]:
    """Active configurations as export items; secrets masked unless ``include_secrets``."""
    rows = SystemConfiguration.objects.active().with_secret_flag().order_by("environment", "category", "config_key")
    if environment:
        rows = rows.filter(environment=environment)
    if category:
        rows = rows.filter(category=category)
    items = []
    for row in rows:
        secret = row.is_encrypted or row.is_secret
        text = plaintext(row) if (include_secrets or not secret) else None
        typed = values.parse(row.value_type, text) if text not in (None, "") else text
        items.append(
            formats.ExportItem(row.environment, row.category, row.config_key, row.value_type, bool(secret), text, typed)
        )
    return items


def known_env_names() -> dict[str, tuple[str, str]]:
    """``CATEGORY_KEY`` -> (category, key) for every key with metadata or a value; ambiguous names left out."""
    pairs = set(ConfigurationMetadata.objects.values_list("category", "config_key"))
    pairs |= set(SystemConfiguration.objects.values_list("category", "config_key").distinct())
    names: dict[str, list[tuple[str, str]]] = {}
    for category, key in pairs:
        names.setdefault(formats.env_name(category, key), []).append((category, key))
    return {name: matches[0] for name, matches in names.items() if len(matches) == 1}


# -------------------------------------------------------------------------------- rollback


def rollback(*, history_id: int, actor=None, reason: str | None = None) -> SystemConfiguration:
    """Give a configuration back the value it had right after a history entry, as a new audited change."""
    try:
        entry = ConfigurationHistory.objects.get(pk=history_id)
    except ConfigurationHistory.DoesNotExist:
        raise ValidationError(f"no history entry #{history_id}", code="missing") from None
    where = label(entry.category, entry.config_key, entry.environment)
    if entry.new_value is not None and entry.new_value.startswith("[secret"):
        raise ValidationError(
            f"history entry #{history_id} ({where}) is a secret: history keeps no secret value, so it cannot be "
            "rolled back. Set the secret again in the editor.",
            code="secret",
        )
    reason = reason or f"Rollback to history entry #{history_id}"
    if entry.action in ("delete", "deactivate"):
        with audit_context(actor=actor, reason=reason):
            deactivate(category=entry.category, key=entry.config_key, environment=entry.environment)
        return SystemConfiguration.objects.get(
            category=entry.category, config_key=entry.config_key, environment=entry.environment
        )
    return set_value(
        category=entry.category,
        key=entry.config_key,
        environment=entry.environment,
        value=entry.new_value,
        value_type=entry.new_value_type,
        actor=actor,
        reason=reason,
    )


# ------------------------------------------------------------------------------ archiving


@dataclasses.dataclass
class ArchiveReport:
    cutoff: datetime.datetime
    moved: int = 0
    batches: int = 0
    remaining: int = 0


def archive_history(
    *, older_than_days: int = 730, batch_size: int = 10_000, dry_run: bool = False, progress=None
) -> ArchiveReport:
    """Move history older than the cutoff to configuration_history_archive, one transaction per batch.

    Nothing is lost: a batch is copied and deleted in the same transaction, so an interruption leaves
    every row in exactly one of the two tables, and a re-run carries on where it stopped.
    """
    cutoff = timezone.now() - datetime.timedelta(days=older_than_days)
    old = ConfigurationHistory.objects.filter(created_at__lt=cutoff)
    report = ArchiveReport(cutoff=cutoff)
    if dry_run:
        report.remaining = old.count()
        return report
    while True:
        with transaction.atomic():
            ids = list(old.order_by("id").values_list("id", flat=True)[:batch_size])
            if not ids:
                return report
            _move_to_archive(cutoff, last_id=ids[-1])
        report.moved += len(ids)
        report.batches += 1
        if progress:
            progress(report.moved)


def _move_to_archive(cutoff: datetime.datetime, *, last_id: int) -> None:
    """Move the old rows up to ``last_id``: exactly the batch, selected by a range, not a list of ids."""
    table, archive = ConfigurationHistory._meta.db_table, ConfigurationHistoryArchive._meta.db_table
    condition = "created_at < %s AND id <= %s"
    with connection.cursor() as cursor:
        # The spec's statement shape: same columns in the same order (docs/schema.md).
        cursor.execute(f"INSERT INTO {archive} SELECT * FROM {table} WHERE {condition}", [cutoff, last_id])
        cursor.execute(f"DELETE FROM {table} WHERE {condition}", [cutoff, last_id])


# ------------------------------------------------------------------------------ test email


def send_test_email(*, environment: str, recipient: str, actor=None) -> SentTestEmail:
    """Send a test message through an environment's smtp settings; record and return the attempt.

    The result is success, or the failure in plain words (connection refused, authentication failed, TLS
    failure, timeout, ...) within CONFIG_SMTP_TIMEOUT; it never contains a secret.
    """
    from django.core.mail import EmailMessage

    from . import mail, runtime

    runtime.reload(environment)  # the values as they are now, not as this process last saw them
    settings = None
    try:
        settings = mail.smtp_settings(environment)
        backend = mail.ConfigurationEmailBackend(environment=environment)
        EmailMessage(
            subject=f"Test email from configurations ({environment})",
            body=f"This test message was sent through the smtp settings of {environment} "
            f"({settings.host}:{settings.port}).",
            to=[recipient],
            connection=backend,
        ).send()
    except Exception as error:
        succeeded, result = False, mail.explain(error, settings)
    else:
        succeeded, result = True, f"Sent to {recipient} through {settings.host}:{settings.port}."
    actor_id = getattr(actor, "pk", None)
    return SentTestEmail.objects.create(
        environment=environment, recipient=recipient, sent_by_id=actor_id, succeeded=succeeded, result=result
    )
