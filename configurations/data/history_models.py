"""configuration_history and its archive, written by the database's triggers only, and the chain's head."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from ..core.vocabulary import HistoryAction
from .model_base import user_column


class HistoryColumns(models.Model):
    """The columns of configuration_history, shared with its archive.

    Both tables get the same columns in the same order, so the spec's
    ``INSERT INTO configuration_history_archive SELECT * ...`` works as written.
    """

    # No database constraint: the row outlives a hard-deleted configuration.
    config = models.ForeignKey(
        "configurations.SystemConfiguration",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_column="config_id",
        db_index=False,
        related_name="+",
    )
    old_value = models.TextField(null=True, blank=True)
    new_value = models.TextField(null=True, blank=True)
    changed_by = user_column("changed_by", on_delete=models.PROTECT)
    change_reason = models.TextField(null=True, blank=True)
    ip_address = models.GenericIPAddressField("IP address", null=True, blank=True)
    user_agent = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now())
    # Additions to the spec (docs/schema.md): the row's identity, so history of a
    # deleted configuration stays readable, and what kind of change it was.
    category = models.CharField(max_length=50, null=True, blank=True)
    config_key = models.CharField(max_length=100, null=True, blank=True)
    environment = models.CharField(max_length=20, null=True, blank=True)
    action = models.CharField(
        max_length=20, choices=HistoryAction.choices, default=HistoryAction.UPDATE, db_default=HistoryAction.UPDATE
    )
    old_value_type = models.CharField(max_length=20, null=True, blank=True)
    new_value_type = models.CharField(max_length=20, null=True, blank=True)
    old_is_encrypted = models.BooleanField(null=True, blank=True)
    new_is_encrypted = models.BooleanField(null=True, blank=True)
    # Whether the configuration was a secret when the change was made (then both values are markers).
    is_secret = models.BooleanField(null=True, blank=True)
    # The hash chain (data/chain.py): written by the configurations trigger only; verify_history checks it.
    prev_hash = models.CharField(max_length=64, null=True, blank=True)
    row_hash = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.action} {self.category}.{self.config_key} [{self.environment}] #{self.pk}"

    @property
    def secret(self) -> bool:
        """Whether this entry is about a secret: from its own columns, never from the text of its values."""
        return bool(self.is_secret or self.old_is_encrypted or self.new_is_encrypted)


class ConfigurationHistory(HistoryColumns):
    """One change of a configuration, written by the database's trigger only."""

    class Meta(HistoryColumns.Meta):
        db_table = "configuration_history"
        verbose_name = _("configuration history entry")
        verbose_name_plural = _("configuration history")
        indexes = [
            # The spec's idx_configuration_history_config_id (config_id) is gone: idx_confhist_config_created serves
            # every lookup by config_id as well (docs/schema.md). A key's history (the API's, by name) has this one.
            models.Index(
                fields=["environment", "category", "config_key", "-created_at"], name="idx_confhist_key_created"
            ),
            models.Index(fields=["changed_by"], name="idx_confhist_changed_by"),
            models.Index(fields=["created_at"], name="idx_confhist_created_at"),
            models.Index(fields=["config", "-created_at"], name="idx_confhist_config_created"),
            # Runtime versions: each category's newest history id (configurations/runtime/snapshots.py).
            models.Index(fields=["environment", "category", "id"], name="idx_confhist_env_category_id"),
        ]


class ConfigurationHistoryArchive(HistoryColumns):
    """Old history moved out of configuration_history by ``archive_history``: the same columns, fewer indexes."""

    class Meta(HistoryColumns.Meta):
        db_table = "configuration_history_archive"
        indexes = [
            models.Index(fields=["config", "-created_at"], name="idx_confarch_config_created"),
            models.Index(fields=["created_at"], name="idx_confarch_created_at"),
        ]
        verbose_name = _("archived history entry")
        verbose_name_plural = _("configuration history archive")


class HistoryChainHead(models.Model):
    """The last link of the history's hash chain (one row, id 1), locked by every writer until it commits."""

    id = models.IntegerField(primary_key=True)
    last_id = models.BigIntegerField(null=True)
    last_hash = models.CharField(max_length=64, null=True)

    class Meta:
        db_table = "configuration_history_head"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="configuration_history_head_one_row")]

    def __str__(self) -> str:
        return f"history head #{self.last_id}: {self.last_hash}"


class HistoryArchive(models.Model):
    """A monthly partition of the history archived whole (PostgreSQL), and the checkpoint the chain keeps of it.

    Written by ``config_history_archive_partition`` only (data/triggers/partitions.py). ``runs`` are the stretches
    of the chain the partition holds, each ``[first id, its prev_hash, last id, last hash, rows]``: what
    ``verify_history`` walks in place of the rows once they left the live table.
    """

    checkpoint_id = models.BigIntegerField(primary_key=True)  # the checkpoint row's history id
    table_name = models.CharField(max_length=100)  # configuration_history_archived_YYYY_MM, until exported
    range_start = models.DateTimeField()
    range_end = models.DateTimeField()
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    row_count = models.BigIntegerField()
    # The SHA-256 chain hash of the last row, which covers every row before it (None: a row written outside the chain).
    last_hash = models.CharField(max_length=64, null=True)
    runs = models.JSONField()
    archived_at = models.DateTimeField()
    exported_to = models.TextField(null=True, blank=True)  # the file it went to; then dropped from the database

    class Meta:
        db_table = "configuration_history_archives"
        ordering = ("range_start",)
        verbose_name = _("archived history partition")

    def __str__(self) -> str:
        return f"{self.table_name} (#{self.first_id}..#{self.last_id}, checkpoint #{self.checkpoint_id})"


class HistoryRollback(models.Model):
    """A history entry written by a rollback, and the entry whose value it restored.

    Written by the rollback service in the same transaction as the change it records, so that the history can say
    "rolled back to entry #N" without trusting the reason's words.
    """

    history_id = models.BigIntegerField(primary_key=True)  # the entry the rollback wrote
    restored_id = models.BigIntegerField(db_index=True)  # the entry whose value it restored

    class Meta:
        db_table = "configuration_history_rollbacks"

    def __str__(self) -> str:
        return f"#{self.history_id} rolled back to #{self.restored_id}"
