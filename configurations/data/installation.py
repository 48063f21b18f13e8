"""Keeps the SQLite history triggers in step with migrations.

SQLite drops a table's triggers whenever a migration rebuilds the table (its
way of altering columns), and refuses to rebuild a table that another table's
trigger refers to. So on SQLite the triggers are taken down before ``migrate``
runs and put back after it, from the newest applied migration that ships
SQLite trigger SQL. The audit trail can never be silently switched off by a
schema change. Each migration that ships triggers defines its own statements; they run in migration
order, so a later migration may replace an earlier trigger of the same name. PostgreSQL keeps its triggers
across ALTER TABLE and needs none of this.
"""

from __future__ import annotations

import sys

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.loader import MigrationLoader

APP_LABEL = "configurations"
INSTALL_ATTRIBUTE = "SQLITE_INSTALL"
UNINSTALL_ATTRIBUTE = "SQLITE_UNINSTALL"


def reinstall_sqlite_triggers(using: str = DEFAULT_DB_ALIAS, **kwargs) -> bool:
    """Re-create the SQLite triggers if their migration is applied; return whether it did."""
    return _run_latest(using, INSTALL_ATTRIBUTE)


def drop_sqlite_triggers(using: str = DEFAULT_DB_ALIAS, **kwargs) -> bool:
    """Drop the SQLite triggers so that migrations may rebuild tables; return whether it did."""
    return _run_latest(using, UNINSTALL_ATTRIBUTE)


def _run_latest(using: str, attribute: str) -> bool:
    connection = connections[using]
    if connection.vendor != "sqlite":
        return False
    statements = _applied(connection, attribute)
    if not statements:
        return False
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return True


def _applied(connection, attribute: str) -> list[str]:
    """The statements named ``attribute`` of every applied migration, in order (reversed for uninstalling)."""
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    applied = sorted(name for app, name in loader.applied_migrations if app == APP_LABEL)
    if attribute == UNINSTALL_ATTRIBUTE:
        applied.reverse()
    statements: list[str] = []
    for name in applied:
        migration = loader.disk_migrations.get((APP_LABEL, name))
        module = sys.modules.get(type(migration).__module__) if migration else None
        statements += list(getattr(module, attribute, None) or [])
    return statements
