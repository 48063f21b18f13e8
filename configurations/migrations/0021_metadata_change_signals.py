"""Tell running processes that the metadata changed: its defaults are values, its password keys secrets.

PostgreSQL: a statement-level trigger on configuration_metadata sends ``NOTIFY configurations_changed`` on commit
(the function of migration 0006); the runtime watcher refreshes, and a refresh that sees the metadata's version
move reloads it. SQLite: triggers bump the change counter the watcher polls. A frozen copy of
data/triggers/signals.py's definitions.
"""

from django.db import migrations

PG_INSTALL = [
    "DROP TRIGGER IF EXISTS configuration_metadata_notify ON configuration_metadata",
    """
CREATE TRIGGER configuration_metadata_notify
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON configuration_metadata
  FOR EACH STATEMENT EXECUTE FUNCTION config_notify_change()
""",
]
PG_UNINSTALL = ["DROP TRIGGER IF EXISTS configuration_metadata_notify ON configuration_metadata"]

_EVENTS = ("INSERT", "UPDATE", "DELETE")
SQLITE_INSTALL = [
    statement
    for event in _EVENTS
    for statement in (
        f"DROP TRIGGER IF EXISTS configuration_metadata_count_{event.lower()}",
        f"CREATE TRIGGER configuration_metadata_count_{event.lower()} AFTER {event} ON configuration_metadata "
        "BEGIN UPDATE configuration_change_counter SET value = value + 1 WHERE id = 1; END",
    )
]
SQLITE_UNINSTALL = [f"DROP TRIGGER IF EXISTS configuration_metadata_count_{event.lower()}" for event in _EVENTS]


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for statement in PG_INSTALL if vendor == "postgresql" else SQLITE_INSTALL if vendor == "sqlite" else []:
        schema_editor.execute(statement, params=None)


def uninstall(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for statement in PG_UNINSTALL if vendor == "postgresql" else SQLITE_UNINSTALL if vendor == "sqlite" else []:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("configurations", "0020_change_request_history_links")]

    operations = [migrations.RunPython(install, uninstall)]
