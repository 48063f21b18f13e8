"""Keeps the SQLite triggers in step with migrations.

SQLite drops a table's triggers whenever a migration rebuilds the table (its way of altering columns), and
refuses to rebuild a table that another table's trigger refers to. So on SQLite every trigger is taken down
before ``migrate`` runs and the declared ones (data/triggers/) are installed after it, once the migration that
made them current is applied: the audit trail can never be silently switched off by a schema change. A
database migrated back below that migration keeps no triggers and says so; migrating forward restores them.
PostgreSQL keeps its triggers across ALTER TABLE and needs none of this.
"""

from __future__ import annotations

import logging

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.recorder import MigrationRecorder

from . import triggers

APP_LABEL = "configurations"
logger = logging.getLogger(__name__)


def reinstall_sqlite_triggers(using: str = DEFAULT_DB_ALIAS, **kwargs) -> bool:
    """Install the declared SQLite triggers if their migration is applied; return whether it did."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return False
    applied = {name for app, name in MigrationRecorder(connection).applied_migrations() if app == APP_LABEL}
    if triggers.INSTALLED_BY not in applied:
        if applied - {"0001_initial"}:
            logger.warning(
                "SQLite: below migration %s the audit triggers are not installed; migrate forward to restore them.",
                triggers.INSTALLED_BY,
            )
        return False
    with connection.cursor() as cursor:
        for trigger in triggers.SQLITE_TRIGGERS:
            for statement in trigger.create_sql():
                cursor.execute(statement)
    return True


def drop_sqlite_triggers(using: str = DEFAULT_DB_ALIAS, **kwargs) -> bool:
    """Drop every SQLite trigger so that migrations may rebuild tables; return whether there were any."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        names = [row[0] for row in cursor.fetchall()]
        for name in names:
            cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')
    return bool(names)
