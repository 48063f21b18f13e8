"""The audit trail over time: rolling back to a history entry, archiving old history.

Archiving moves rows to configuration_history_archive in batches on SQLite (and on a history that is not
partitioned); on PostgreSQL's partitioned history it archives whole month partitions behind a checkpoint in the
chain (services/partitions.py), never deleting a row, and can export them to a file (services/archives.py).
"""

from __future__ import annotations

import dataclasses
import datetime
import os

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from ..core.vocabulary import HistoryAction, label
from ..data.audit import audit_context
from ..data.models import ConfigurationHistory, ConfigurationHistoryArchive, HistoryRollback, SystemConfiguration
from . import archives, partitions
from .change_requests import Deletion, key_versions
from .changes import Change, deactivate, plan_changes, write_plans

# -------------------------------------------------------------------------------- rollback


class NothingToRollBack(ValidationError):
    """The configuration already has the value the entry would restore: nothing was written."""


def rollback(*, history_id: int, actor=None, reason: str | None = None) -> SystemConfiguration:
    """Give a configuration back the value it had right after a history entry, as a new audited change.

    The new history entry is recorded as a rollback of ``history_id``; NothingToRollBack (and nothing written) when
    the configuration has that value already.
    """
    item = rollback_item(history_id)
    reason = reason or f"Rollback to history entry #{history_id}"
    with audit_context(actor=actor, reason=reason):
        if isinstance(item, Deletion):
            changed = deactivate(category=item.category, key=item.key, environment=item.environment)
        else:
            plans = plan_changes([item], lock=True, actor=actor)
            changed = plans[0].writes
            write_plans(plans)
        if not changed:
            raise NothingToRollBack(
                f"{label(item.category, item.key, item.environment)} already has the value of history entry "
                f"#{history_id}: nothing was rolled back.",
                code="unchanged",
            )
        _record_rollback(item, history_id)
    return SystemConfiguration.objects.get(category=item.category, config_key=item.key, environment=item.environment)


def _record_rollback(item: Change | Deletion, restored_id: int) -> None:
    written = key_versions(item.environment, {(item.category, item.key)})[(item.category, item.key)]
    HistoryRollback.objects.create(history_id=written, restored_id=restored_id)


def rollback_item(history_id: int) -> Change | Deletion:
    """What rolling back to a history entry writes: its value again, or the key's deletion (ValidationError if
    the entry is unknown or of a secret, whose value the history does not keep)."""
    try:
        entry = ConfigurationHistory.objects.get(pk=history_id)
    except ConfigurationHistory.DoesNotExist:
        raise ValidationError(f"no history entry #{history_id}", code="missing") from None
    where = label(entry.category, entry.config_key, entry.environment)
    if entry.secret:
        raise ValidationError(
            f"history entry #{history_id} ({where}) is a secret: history keeps no secret value, so it cannot be "
            "rolled back. Set the secret again in the editor.",
            code="secret",
        )
    if entry.action in (HistoryAction.DELETE, HistoryAction.DEACTIVATE):
        return Deletion(entry.category, entry.config_key, entry.environment)
    return Change(entry.category, entry.config_key, entry.environment, entry.new_value, entry.new_value_type)


# ------------------------------------------------------------------------------ archiving


@dataclasses.dataclass
class ArchiveReport:
    """What archive_history moved (or would move)."""

    cutoff: datetime.datetime
    moved: int = 0
    batches: int = 0  # batches of rows, or partitions archived whole
    remaining: int = 0
    partitions: list[str] = dataclasses.field(default_factory=list)  # archived whole (PostgreSQL)
    checkpoints: list[int] = dataclasses.field(default_factory=list)  # their checkpoint rows' history ids
    exported_to: str | None = None


def archive_history(
    *,
    older_than_days: int = 730,
    batch_size: int = 10_000,
    dry_run: bool = False,
    progress=None,
    export_to: str | None = None,
) -> ArchiveReport:
    """Archive history older than the cutoff: whole month partitions on PostgreSQL's partitioned history (exported
    to ``export_to`` and dropped, if given), else rows moved to configuration_history_archive in batches.

    Nothing is lost: a batch is copied and deleted in the same transaction, a partition checkpointed and detached in
    one, so an interruption leaves every row in exactly one place, and a re-run carries on where it stopped.
    """
    cutoff = timezone.now() - datetime.timedelta(days=older_than_days)
    if partitions.is_partitioned():
        return _archive_partitions(cutoff, dry_run=dry_run, export_to=export_to, progress=progress)
    if export_to:
        raise ValidationError(
            "--export archives whole partitions, which only PostgreSQL's partitioned history has; here archived "
            "rows stay in configuration_history_archive",
            code="unpartitioned",
        )
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


def _archive_partitions(cutoff: datetime.datetime, *, dry_run: bool, export_to: str | None, progress) -> ArchiveReport:
    """Whole month partitions that end before the cutoff: checkpointed, detached, moved (and exported)."""
    report = ArchiveReport(cutoff=cutoff)
    if export_to:
        _check_export(export_to)
    if dry_run:
        due = partitions.archivable(cutoff, count_rows=True)
        report.partitions = [p.name for p in due]
        report.remaining = sum(p.rows for p in due) + partitions.default_rows_before(cutoff)
        return report
    partitions.ensure_partitions()  # rows the default partition caught go to their month's partition first
    archived = []
    for partition in partitions.archivable(cutoff):
        entry = partitions.archive_partition(partition.name, cutoff)
        report.batches += 1
        report.partitions.append(partition.name)
        if entry is not None:
            report.moved += entry.row_count
            archived.append(entry)
            report.checkpoints.append(entry.checkpoint_id)
        if progress:
            progress(report.moved)
    if export_to and archived:
        archives.export(archived, export_to)
        report.exported_to = export_to
    return report


def _check_export(path: str) -> None:
    """Before anything moves: the file must be new, its folder exist, and this role allowed to drop archives."""
    problems = []
    if os.path.lexists(path):
        problems.append(f"--export {path}: the file exists; archives are never written over an existing file")
    elif not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        problems.append(f"--export {path}: the folder {os.path.dirname(os.path.abspath(path))} does not exist")
    with connection.cursor() as cursor:
        cursor.execute("SELECT has_function_privilege('config_history_drop_archive(bigint, text)', 'EXECUTE')")
        if not cursor.fetchone()[0]:
            problems.append("--export drops the archived partitions once written: run it as the owner role")
    if problems:
        raise ValidationError(problems, code="export")


def _move_to_archive(cutoff: datetime.datetime, *, last_id: int) -> None:
    """Move the old rows up to ``last_id``: exactly the batch, selected by a range, not a list of ids."""
    table, archive = ConfigurationHistory._meta.db_table, ConfigurationHistoryArchive._meta.db_table
    condition = "created_at < %s AND id <= %s"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Owned by the owner role (SECURITY DEFINER): the application role may archive, never edit.
            cursor.execute("SELECT config_archive_history(%s, %s)", [cutoff, last_id])
            return
        # The spec's statement shape: same columns in the same order (docs/schema.md).
        cursor.execute(f"INSERT INTO {archive} SELECT * FROM {table} WHERE {condition}", [cutoff, last_id])
        cursor.execute(f"DELETE FROM {table} WHERE {condition}", [cutoff, last_id])
