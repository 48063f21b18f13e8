"""Validating, typing, encrypting and writing values: the core of every write path."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q

from ..core import crypto, validation
from ..core.vocabulary import (
    Change,
    ConfigurationNotFound,
    Environment,
    InputType,
    Outcome,
    label,
    value_type_for_input,
)
from ..data import bulk
from ..data.audit import audit_context
from ..data.models import ConfigurationMetadata, SystemConfiguration


@dataclasses.dataclass
class PlannedChange:
    """What writing a Change will do: an Outcome (``add``, ``change``, ``reactivate`` or ``unchanged``)."""

    change: Change
    row: SystemConfiguration | None
    text: str
    value_type: str
    secret: bool
    outcome: str

    @property
    def writes(self) -> bool:
        return self.outcome != Outcome.UNCHANGED


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
    return row.typed_value()


def plaintext(row: SystemConfiguration) -> str | None:
    """The row's stored text, decrypted if it is encrypted (DecryptionError if it cannot be)."""
    return row.plaintext()


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
        write_plans(plans)
    return plans


def plan_changes(changes: Sequence[Change], *, lock: bool = False, progress=None) -> list[PlannedChange]:
    """What ``apply_changes`` would do, without writing; ValidationError if anything is invalid."""
    _refuse_duplicates(changes)
    metadata = _metadata_for(changes)
    rows = existing_rows(changes, lock=lock)
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


def existing_rows(changes: Iterable[Change], *, lock: bool) -> dict[tuple[str, str, str], SystemConfiguration]:
    """The rows the changes would touch, by (category, key, environment); one query."""
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
    return value_type_for_input(meta.input_type if meta is not None else None)


def _error(change: Change, message: str, code: str) -> ValidationError:
    return ValidationError(f"{change.label}: {message}", code=code)


def _plan(change: Change, meta: ConfigurationMetadata | None, row: SystemConfiguration | None) -> PlannedChange:
    if change.environment not in Environment.values:
        raise ValidationError(
            [_error(change, f"unknown environment; use one of {', '.join(Environment.values)}", "environment")]
        )
    value_type = _type_for(change, meta, row)
    text = validation.checked_text(
        change.value,
        value_type=value_type,
        where=change.label,
        rules=meta.validation_rules if meta else None,
        input_type=meta.input_type if meta else None,
        required=bool(meta and meta.is_required),
    )
    secret = bool(change.is_encrypted) or (meta is not None and meta.input_type == InputType.PASSWORD)
    secret = secret or (change.is_encrypted is None and row is not None and row.is_encrypted)
    if secret and crypto.keyring().active_id is None:
        raise ValidationError(
            [_error(change, "cannot store a secret: CONFIG_ENCRYPTION_KEYS is not set", "encryption")]
        )
    return PlannedChange(change, row, text, value_type, secret, _outcome(row, text, value_type, secret))


def _outcome(row: SystemConfiguration | None, text: str, value_type: str, secret: bool) -> str:
    if row is None:
        return Outcome.ADD
    same_shape = row.value_type == value_type and row.is_encrypted == secret
    if same_shape and _stored_equals(row, text):
        return Outcome.UNCHANGED if row.is_active else Outcome.REACTIVATE
    return Outcome.CHANGE


def _stored_equals(row: SystemConfiguration, text: str) -> bool:
    if not row.is_encrypted:
        return row.config_value == text
    try:
        return row.plaintext() == text
    except crypto.DecryptionError:
        return False  # an undecryptable secret is replaced, never compared


def write_plans(plans: list[PlannedChange], progress=None) -> None:
    """Write the plans that change something (inside the caller's audited transaction)."""
    new_rows, changed_rows = [], []
    for plan in plans:
        if not plan.writes:
            continue
        change = plan.change
        stored = plan.text
        if plan.secret and plan.outcome != Outcome.REACTIVATE:
            stored = crypto.encrypt(plan.text, environment=change.environment, category=change.category, key=change.key)
        if plan.row is None:
            plan.row = SystemConfiguration(
                category=change.category, config_key=change.key, environment=change.environment
            )
            new_rows.append(plan.row)
        else:
            changed_rows.append(plan.row)
        if plan.outcome != Outcome.REACTIVATE:
            plan.row.config_value = stored
        plan.row.value_type, plan.row.is_encrypted, plan.row.is_active = plan.value_type, plan.secret, True
    bulk.insert(new_rows)
    bulk.update(changed_rows)
    if progress:
        progress("writing", len(new_rows) + len(changed_rows), len(new_rows) + len(changed_rows))


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
        Change(category, key, target, row.plaintext(), row.value_type, row.is_encrypted or None)
        for key, row in sorted(by_key.items())
    ]
    return apply_changes(changes, actor=actor, reason=reason)
