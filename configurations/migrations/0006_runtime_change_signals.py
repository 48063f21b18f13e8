"""Tell running processes that configurations changed (configurations.runtime).

PostgreSQL: a statement-level trigger sends ``NOTIFY configurations_changed``; PostgreSQL delivers it when the
transaction commits, and never for a rolled-back one. SQLite: triggers bump a change counter that the
runtime's watcher polls. configurations.installation re-creates the SQLite triggers after every migrate.
"""

from django.db import migrations

PG_INSTALL = [
    """
CREATE OR REPLACE FUNCTION config_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- One notification per statement; PostgreSQL folds duplicates within a transaction.
  PERFORM pg_notify('configurations_changed', TG_OP);
  RETURN NULL;
END
$$;
""",
    "DROP TRIGGER IF EXISTS system_configurations_notify ON system_configurations",
    """
CREATE TRIGGER system_configurations_notify
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON system_configurations
  FOR EACH STATEMENT EXECUTE FUNCTION config_notify_change()
""",
]

PG_UNINSTALL = [
    "DROP TRIGGER IF EXISTS system_configurations_notify ON system_configurations",
    "DROP FUNCTION IF EXISTS config_notify_change()",
]

SQLITE_TABLE = [
    "CREATE TABLE IF NOT EXISTS configuration_change_counter (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO configuration_change_counter (id, value) VALUES (1, 0)",
]

SQLITE_INSTALL = [
    statement
    for event in ("INSERT", "UPDATE", "DELETE")
    for statement in (
        f"DROP TRIGGER IF EXISTS system_configurations_count_{event.lower()}",
        f"""
CREATE TRIGGER system_configurations_count_{event.lower()}
AFTER {event} ON system_configurations
BEGIN
  UPDATE configuration_change_counter SET value = value + 1 WHERE id = 1;
END
""",
    )
]

SQLITE_UNINSTALL = [f"DROP TRIGGER IF EXISTS system_configurations_count_{e}" for e in ("insert", "update", "delete")]


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    statements = PG_INSTALL if vendor == "postgresql" else SQLITE_TABLE + SQLITE_INSTALL if vendor == "sqlite" else []
    for statement in statements:
        schema_editor.execute(statement, params=None)


def uninstall(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = PG_UNINSTALL
    elif vendor == "sqlite":
        statements = [*SQLITE_UNINSTALL, "DROP TABLE IF EXISTS configuration_change_counter"]
    else:
        statements = []
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("configurations", "0005_more_smtp_providers")]

    operations = [migrations.RunPython(install, uninstall)]
