"""Importing and exporting configurations."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from ..core import formats, stored
from ..core.vocabulary import label
from ..data.audit import audit_context
from ..data.models import ConfigurationMetadata, SystemConfiguration
from ..observability import metrics
from . import permissions
from .change_requests import Opened, open_request
from .changes import Change, PlannedChange, existing_rows, plan_changes, write_plans


@dataclasses.dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    plans: list[PlannedChange]
    skipped: list[str]
    dry_run: bool


class ImportRejected(ValidationError):
    """Every problem of an import, each starting with where it is (file and path or line)."""


@sensitive_variables()
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
    permissions.require_edit_each(actor, {r.environment for r in records}, doing="import into")
    skipped = [
        f"{r.where}: {label(r.category, r.key, r.environment)}: secret not in the export, kept"
        for r in records
        if r.masked
    ]
    wanted = [r for r in records if not r.masked]
    with (
        metrics.OPERATION_SECONDS.labels(operation="import").time(),
        audit_context(actor=actor, reason=reason or "Import"),
    ):
        if on_conflict == "skip":
            wanted = _without_existing(wanted, skipped)
        plans = _plan_records(wanted, lock=not dry_run, progress=progress, actor=actor)
        if on_conflict == "abort":
            _refuse_conflicts(wanted, plans)
        if not dry_run:
            write_plans(plans, progress=progress)
    return ImportReport(plans, skipped, dry_run)


@sensitive_variables()
def import_as_requests(
    records: Sequence[formats.Record], *, on_conflict: str = "overwrite", actor=None, title: str, reason: str = ""
) -> tuple[list[Opened], ImportReport]:
    """Open one change request per environment with the keys an import would change; nothing live changes.

    Validated exactly as the import (every problem reported with where it is); all requests or none are opened.
    """
    with transaction.atomic():
        report = import_records(records, on_conflict=on_conflict, dry_run=True, actor=actor, reason=reason or None)
        by_environment: dict[str, list[Change]] = {}
        for plan in report.plans:
            if plan.writes:
                by_environment.setdefault(plan.change.environment, []).append(plan.change)
        opened = [
            open_request(environment, changes, title=title, actor=actor, reason=reason)
            for environment, changes in sorted(by_environment.items())
        ]
    return opened, report


def _without_existing(records: list[formats.Record], skipped: list[str]) -> list[formats.Record]:
    """The records whose key does not exist yet; the others are noted in ``skipped`` (--on-conflict skip)."""
    existing = existing_rows(records, lock=False)
    skipped += [
        f"{r.where}: {label(r.category, r.key, r.environment)}: exists, kept (--on-conflict skip)"
        for r in records
        if (r.category, r.key, r.environment) in existing
    ]
    return [r for r in records if (r.category, r.key, r.environment) not in existing]


def _plan_records(records: Sequence[formats.Record], *, lock: bool, progress=None, actor=None) -> list[PlannedChange]:
    try:
        return plan_changes(records, lock=lock, progress=progress, actor=actor)  # a Record is a Change
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


@sensitive_variables()
def export_items(
    *, environment: str | None = None, category: str | None = None, include_secrets: bool = False, actor=None
) -> list[formats.ExportItem]:
    """Active configurations as export items; secrets masked unless ``include_secrets``.

    A secret leaves its environment only at the hands of someone who may edit it: with an acting user, every
    environment whose secrets would be exported must be editable by them (EnvironmentPermissionDenied).
    """
    rows = SystemConfiguration.objects.active().with_secret_flag().order_by("environment", "category", "config_key")
    if environment:
        rows = rows.filter(environment=environment)
    if category:
        rows = rows.filter(category=category)
    rows = list(rows)
    if include_secrets:
        secret_environments = {row.environment for row in rows if row.is_secret}
        permissions.require_edit_each(actor, secret_environments, doing="export the secrets of")
    items = []
    for row in rows:
        secret = row.is_encrypted or row.is_secret
        text = row.plaintext() if (include_secrets or not secret) else None
        typed = stored.parse_stored(text, row.value_type)
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
