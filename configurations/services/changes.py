"""Validating, typing, encrypting and writing values: the core of every write path."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from ..core import crypto, stored, validation
from ..core.secrecy import Secret, conceal, is_secret_key, reveal, why_secret
from ..core.vocabulary import (
    ENVIRONMENTS,
    Change,
    ConfigurationNotFound,
    Outcome,
    label,
    value_type_for_input,
)
from ..data import bulk, locks
from ..data.audit import audit_context
from ..data.models import ConfigurationMetadata, SystemConfiguration
from ..observability import metrics
from . import permissions, reviews

ENVIRONMENT_NAMES = frozenset(ENVIRONMENTS)


@dataclasses.dataclass
class PlannedChange:
    """What writing a Change will do: an Outcome (``add``, ``change``, ``reactivate`` or ``unchanged``).

    ``text`` is the canonical stored text before encryption; for a secret it is a ``Secret``.
    """

    change: Change
    row: SystemConfiguration | None
    text: str | Secret
    value_type: str
    secret: bool
    outcome: str

    @property
    def writes(self) -> bool:
        """Whether applying the change writes anything."""
        return self.outcome != Outcome.UNCHANGED


# --------------------------------------------------------------------------------- reads


def get_value(*, category: str, key: str, environment: str) -> Any:
    """The typed, decrypted value of the active configuration, else its metadata's default; ConfigurationNotFound
    if the key has neither."""
    return value_and_source(category=category, key=key, environment=environment)[0]


def value_and_source(*, category: str, key: str, environment: str) -> tuple[Any, str]:
    """(typed value, "stored" or "default"): the active row's value, else the metadata's default."""
    row = SystemConfiguration.objects.active().filter(category=category, config_key=key, environment=environment)
    found = row.first()
    if found is not None:
        return typed_value(found), "stored"
    meta = ConfigurationMetadata.objects.filter(category=category, config_key=key).first()
    if meta is None or meta.default_value is None:
        raise ConfigurationNotFound(f"no active configuration {label(category, key, environment)}")
    value_type = meta.value_type or value_type_for_input(meta.input_type)
    return stored.parse_stored(meta.default_value, value_type), "default"


def typed_value(row: SystemConfiguration) -> Any:
    """The Python value of a row: decrypted if it is a secret, parsed by its value_type."""
    return row.typed_value()


def plaintext(row: SystemConfiguration) -> str | None:
    """The row's stored text, decrypted if it is encrypted (DecryptionError if it cannot be)."""
    return row.plaintext()


# -------------------------------------------------------------------------------- writes


@sensitive_variables()
def plan_changes(changes: Sequence[Change], *, lock: bool = False, progress=None, actor=None) -> list[PlannedChange]:
    """What ``apply_changes`` would do, without writing; ValidationError if anything is invalid.

    Planning a write is already refused (EnvironmentPermissionDenied) unless the acting user may edit
    every environment it names, so previews and dry runs show nothing the user could not do.
    """
    refuse_unwritable(changes, actor=actor)
    if lock:  # the categories' locks first, then their rows (and the metadata, in the same round trip)
        metadata, rows = bulk.read_for_write({(c.category, c.environment) for c in changes},
                                             {(c.category, c.key) for c in changes},
                                             {(c.category, c.key, c.environment) for c in changes})  # fmt: skip
    else:
        metadata, rows = _metadata_for(changes), existing_rows(changes, lock=False)
    return plans_from(changes, metadata, rows, progress=progress)


def refuse_unwritable(changes: Sequence[Change], *, actor=None) -> None:
    """Before anything is read: the acting user may edit every environment named (EnvironmentPermissionDenied), and no
    change is named twice or with a name no database can hold (ValidationError)."""
    permissions.require_edit_each(actor, {c.environment for c in changes})
    _refuse_duplicates(changes)
    _refuse_bad_names(changes)  # before any query: a name PostgreSQL cannot even hold (a NUL) is a clear error


@sensitive_variables()
def plans_from(changes: Sequence[Change], metadata: dict, rows: dict, *, progress=None) -> list[PlannedChange]:
    """The plans of ``changes`` given their keys' metadata and rows (as ``bulk.read_for_write`` reads them); a
    ValidationError listing every problem."""
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


def lock_category(category: str, environment: str) -> None:
    """Hold the category's write lock in the environment until the transaction ends; take it before reading."""
    locks.lock_categories([(category, environment)])


def deactivate(*, category: str, key: str, environment: str, actor=None, reason: str | None = None) -> int:
    """The spec's soft delete: ``is_active = false``. Returns how many rows it changed (0 or 1)."""
    permissions.require_edit_each(actor, [environment])
    with audit_context(actor=actor, reason=reason):
        reviews.guard([environment])
        changed = SystemConfiguration.objects.filter(
            category=category, config_key=key, environment=environment, is_active=True
        ).update(is_active=False)
        transaction.on_commit(functools.partial(metrics.counted_writes, 0, changed, path=metrics.current_path()))
        return changed


# ------------------------------------------------------------------------------- helpers


def _refuse_duplicates(changes: Sequence[Change]) -> None:
    seen: set[str] = set()
    duplicates = {c.label for c in changes if c.label in seen or seen.add(c.label)}
    if duplicates:
        raise ValidationError(
            {name: [ValidationError(f"{name}: given more than once", code="duplicate")] for name in sorted(duplicates)}
        )


def _refuse_bad_names(changes: Sequence[Change]) -> None:
    errors = {}
    for change in changes:
        problems = [(p, "name") for p in validation.name_problems(category=change.category, key=change.key)]
        if change.environment not in ENVIRONMENT_NAMES:
            problems.append((f"unknown environment; use one of {', '.join(ENVIRONMENTS)}", "environment"))
        if problems:
            where = _safe_label(change)
            errors[where] = [ValidationError(f"{where}: {problem}", code=code) for problem, code in problems]
    if errors:
        raise ValidationError(errors)


def _safe_label(change: Change) -> str:
    """The change's label, with what no database or log can carry (NUL, a lone surrogate) shown escaped."""
    text = change.label
    if "\x00" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        return text
    return text.encode("unicode_escape", "backslashreplace").decode("ascii")


def _metadata_for(changes: Iterable[Change]) -> dict[tuple[str, str], ConfigurationMetadata]:
    return bulk.metadata_of({(c.category, c.key) for c in changes})


def existing_rows(changes: Iterable[Change], *, lock: bool) -> dict[tuple[str, str, str], SystemConfiguration]:
    """The rows the changes would touch, by (category, key, environment); one query."""
    return bulk.rows_of({(c.category, c.key, c.environment) for c in changes}, lock=lock)


def _type_for(change: Change, meta: ConfigurationMetadata | None, row: SystemConfiguration | None) -> str:
    """The metadata's type when it declares one (a change that names another is refused); else as before."""
    declared = meta.value_type if meta is not None else None
    if declared:
        if change.value_type not in (None, declared):
            raise ValidationError(
                [_error(change, f"is a {declared} key; it cannot be stored as {change.value_type}", "value_type")]
            )
        return declared
    if change.value_type is not None:
        return change.value_type
    if row is not None:
        return row.value_type
    if change.type_hint is not None and meta is None:
        return change.type_hint
    return value_type_for_input(meta.input_type if meta is not None else None)


def _error(change: Change, message: str, code: str) -> ValidationError:
    return ValidationError(f"{change.label}: {message}", code=code)


@sensitive_variables()
def _plan(change: Change, meta: ConfigurationMetadata | None, row: SystemConfiguration | None) -> PlannedChange:
    value_type = _type_for(change, meta, row)
    secret = _secret(change, meta, row)
    text = validation.checked_text(
        reveal(change.value),
        value_type=value_type,
        where=change.label,
        rules=meta.validation_rules if meta else None,
        input_type=meta.input_type if meta else None,
        required=bool(meta and meta.is_required),
        name=meta.display_name if meta else change.key,
    )
    if secret and crypto.keyring().active_id is None:
        raise ValidationError(
            [_error(change, "cannot store a secret: CONFIG_ENCRYPTION_KEYS is not set", "encryption")]
        )
    outcome = _outcome(row, text, value_type, secret)
    return PlannedChange(change, row, conceal(text, secret), value_type, secret, outcome)


def _secret(change: Change, meta: ConfigurationMetadata | None, row: SystemConfiguration | None) -> bool:
    """Whether the change stores a secret; a request to store a secret in the clear is refused."""
    facts = {"input_type": meta.input_type if meta else None, "is_encrypted": row is not None and row.is_encrypted}
    if not is_secret_key(change.key, **facts):
        return bool(change.is_encrypted)
    if change.is_encrypted is False:
        raise ValidationError(
            [
                _error(
                    change,
                    f"is a secret ({why_secret(change.key, **facts)}), so it is always stored encrypted; "
                    "it cannot be stored or turned into plaintext",
                    "plaintext_secret",
                )
            ]
        )
    return True


def _outcome(row: SystemConfiguration | None, text: str, value_type: str, secret: bool) -> str:
    if row is None:
        return Outcome.ADD
    same_shape = row.value_type == value_type and row.is_encrypted == secret
    if same_shape and _stored_equals(row, text):
        return Outcome.UNCHANGED if row.is_active else Outcome.REACTIVATE
    return Outcome.CHANGE


def _stored_equals(row: SystemConfiguration, text: str) -> bool:
    text = reveal(text)
    if not row.is_encrypted:
        return row.config_value == text
    try:
        return row.plaintext() == text
    except crypto.DecryptionError:
        return False  # an undecryptable secret is replaced, never compared


@sensitive_variables()
def write_plans(plans: list[PlannedChange], progress=None, then: bulk.Then = None) -> list[tuple]:
    """Write the plans that change something (inside the caller's audited transaction), if the review allows; the
    rows of ``then``, a read run after the writes (in the last one's round trip where the driver allows)."""
    writing = {plan.change.environment for plan in plans if plan.writes}
    if writing:
        reviews.guard(writing)
    new_rows, changed_rows = staged_rows(plans)
    found = bulk.insert(new_rows, then=None if changed_rows else then)
    found = bulk.update(changed_rows, then=then) if changed_rows else found
    counted = functools.partial(metrics.counted_writes, len(new_rows), len(changed_rows), path=metrics.current_path())
    transaction.on_commit(counted)
    if progress:
        progress("writing", len(new_rows) + len(changed_rows), len(new_rows) + len(changed_rows))
    return found


@sensitive_variables()
def staged_rows(plans: list[PlannedChange]) -> tuple[list[SystemConfiguration], list[SystemConfiguration]]:
    """The plans that write, as rows ready to be written (secrets encrypted): the new rows, then the changed ones."""
    new_rows, changed_rows = [], []
    for plan in plans:
        if not plan.writes:
            continue
        change = plan.change
        stored = reveal(plan.text)
        if plan.secret and plan.outcome != Outcome.REACTIVATE:
            stored = crypto.encrypt(stored, environment=change.environment, category=change.category, key=change.key)
        if plan.row is None:
            plan.row = bulk.new_row(change.category, change.key, change.environment)
            new_rows.append(plan.row)
        else:
            changed_rows.append(plan.row)
        if plan.outcome != Outcome.REACTIVATE:
            plan.row.config_value = stored
        plan.row.value_type, plan.row.is_encrypted, plan.row.is_active = plan.value_type, plan.secret, True
    return new_rows, changed_rows


# ---------------------------------------------------------------------------- environments


@sensitive_variables()
def copy_changes(*, category: str, keys: Sequence[str], source: str, target: str, actor=None) -> list[Change]:
    """The changes that copy ``keys`` from ``source`` to ``target`` (written by copy_values, or put in a request)."""
    permissions.require_edit_each(actor, [target])
    rows = SystemConfiguration.objects.active().with_secret_flag()
    by_key = {row.config_key: row for row in rows.filter(category=category, environment=source, config_key__in=keys)}
    missing = sorted(set(keys) - set(by_key))
    if missing:
        raise ValidationError(
            [ValidationError(f"{label(category, k, source)}: no active value to copy", code="missing") for k in missing]
        )
    secrets = sorted(key for key, row in by_key.items() if row.is_secret)
    if secrets and not permissions.may_edit(actor, source):
        raise permissions.EnvironmentPermissionDenied(
            f"Nothing was copied: {', '.join(secrets)} {'is a secret' if len(secrets) == 1 else 'are secrets'} of "
            f"{source}, and a secret may leave {source} only at the hands of someone who may edit {source}."
        )
    return [
        Change(category, key, target, conceal(row.plaintext(), row.is_secret), row.value_type, row.is_secret or None)
        for key, row in sorted(by_key.items())
    ]
