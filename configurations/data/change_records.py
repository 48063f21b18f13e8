"""simple-history's records of metadata and templates, written by the database (data/triggers/records.py).

``DatabaseRecordedHistory`` is simple-history's ``HistoricalRecords`` without its signal handlers: the triggers
write every record, on every path, so the ORM must not write a second one. ``RecordedChangeColumns`` adds what
the triggers record beyond simple-history's columns. ``AuditChainHead`` is each record table's last chain link.
"""

from __future__ import annotations

from django.db import models
from simple_history.models import HistoricalRecords


class DatabaseRecordedHistory(HistoricalRecords):
    """simple-history's models, managers and admin, with the records written by database triggers only."""

    def post_save(self, instance, created, using=None, **kwargs) -> None:
        """The AFTER INSERT/UPDATE trigger has written the record."""

    def post_delete(self, instance, using=None, **kwargs) -> None:
        """The AFTER DELETE trigger has written the record."""


class RecordedChangeColumns(models.Model):
    """The record's old state, where the change came from, and its link in the table's hash chain."""

    history_old_state = models.JSONField(null=True, blank=True)
    history_ip_address = models.GenericIPAddressField(null=True, blank=True)
    history_user_agent = models.TextField(null=True, blank=True)
    history_prev_hash = models.CharField(max_length=64, null=True, blank=True)
    history_row_hash = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        abstract = True


def recorded_history(table_name: str) -> DatabaseRecordedHistory:
    """The history of an audited model kept in ``table_name`` (reasons as long as the audit context allows)."""
    return DatabaseRecordedHistory(
        table_name=table_name,
        bases=[RecordedChangeColumns],
        history_change_reason_field=models.TextField(null=True),
    )


class AuditChainHead(models.Model):
    """The last link of one record table's hash chain, locked by every writer until it commits."""

    table_name = models.CharField(max_length=63, primary_key=True)
    last_id = models.BigIntegerField(null=True)
    last_hash = models.CharField(max_length=64, null=True)

    class Meta:
        db_table = "audit_chain_heads"

    def __str__(self) -> str:
        return f"{self.table_name} head #{self.last_id}: {self.last_hash}"
