"""Keeps the SQLite history triggers installed after every migrate.

SQLite drops a table's triggers whenever a migration rebuilds the table (its
way of altering columns). After each ``migrate`` this re-runs the trigger SQL of
the newest applied migration that ships SQLite triggers, so the audit trail can
never be silently switched off by a schema change.
"""

from __future__ import annotations

import sys

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.loader import MigrationLoader

APP_LABEL = "configurations"
TRIGGER_SQL_ATTRIBUTE = "SQLITE_INSTALL"


def reinstall_sqlite_triggers(using: str = DEFAULT_DB_ALIAS, **kwargs) -> bool:
    """Re-create the SQLite triggers if their migration is applied; return whether it did."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return False
    statements = _latest_applied_trigger_sql(connection)
    if not statements:
        return False
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return True


def _latest_applied_trigger_sql(connection) -> list[str] | None:
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    applied = sorted(name for app, name in loader.applied_migrations if app == APP_LABEL)
    for name in reversed(applied):
        migration = loader.disk_migrations.get((APP_LABEL, name))
        module = sys.modules.get(type(migration).__module__) if migration else None
        statements = getattr(module, TRIGGER_SQL_ATTRIBUTE, None)
        if statements:
            return list(statements)
    return None
