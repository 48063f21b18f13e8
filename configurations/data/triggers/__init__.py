"""Every trigger function and trigger of the schema, declared once, as the database holds them now.

The definitions live in the modules of this package, one per concern and engine; migrations hold frozen copies
of the SQL they installed (never an import of this package or of another migration). ``inspection`` compares
the declared definitions with the database's, and a test fails when they differ after ``migrate``. On SQLite,
whose table rebuilds drop triggers, data/installation.py installs these definitions after every ``migrate``.
"""

from __future__ import annotations

from . import history_postgresql, history_sqlite, hot_path, outbox, partitions, records, rules, signals
from .definitions import Function, PostgresTrigger, SqliteTrigger

# The newest migration that installs or changes any of the definitions below: from it on they are current.
INSTALLED_BY = "0036_chain_lock_queue"

POSTGRESQL_FUNCTIONS: tuple[Function, ...] = (
    *history_postgresql.POSTGRESQL_FUNCTIONS,
    *records.POSTGRESQL_FUNCTIONS,
    *rules.POSTGRESQL_FUNCTIONS,
    *signals.POSTGRESQL_FUNCTIONS,
    *outbox.POSTGRESQL_FUNCTIONS,
    *partitions.POSTGRESQL_FUNCTIONS,
    *hot_path.POSTGRESQL_FUNCTIONS,
)
POSTGRESQL_TRIGGERS: tuple[PostgresTrigger, ...] = (
    *history_postgresql.POSTGRESQL_TRIGGERS,
    *records.POSTGRESQL_TRIGGERS,
    *rules.POSTGRESQL_TRIGGERS,
    *signals.POSTGRESQL_TRIGGERS,
    *outbox.POSTGRESQL_TRIGGERS,
)
# In installation order: a BEFORE trigger's refusal must come before the AFTER triggers that record the row.
SQLITE_TRIGGERS: tuple[SqliteTrigger, ...] = (
    *rules.SQLITE_TRIGGERS,
    *history_sqlite.SQLITE_TRIGGERS,
    *records.SQLITE_TRIGGERS,
    *signals.SQLITE_TRIGGERS,
    *outbox.SQLITE_TRIGGERS,
)

__all__ = [
    "INSTALLED_BY",
    "POSTGRESQL_FUNCTIONS",
    "POSTGRESQL_TRIGGERS",
    "SQLITE_TRIGGERS",
    "Function",
    "PostgresTrigger",
    "SqliteTrigger",
]
