"""Tell running processes that what an API token's owner may do changed, so that they check it from memory
(issue 24; docs/api.md).

PostgreSQL: statement-level triggers on the owner's permissions, their groups, the groups' permissions and the
permissions themselves send ``NOTIFY configurations_changed, 'tokens'`` on commit; the runtime watcher reloads the
tokens with their owners. SQLite: triggers bump the change counter the watcher polls (installed after ``migrate``
with every other SQLite trigger, data/installation.py; created here too for a database migrated to this point).
"""

from django.db import migrations

_TABLES = [
    ("users_user_permissions", ("INSERT", "UPDATE", "DELETE"), "INSERT OR DELETE OR UPDATE OR TRUNCATE"),
    ("users_groups", ("INSERT", "UPDATE", "DELETE"), "INSERT OR DELETE OR UPDATE OR TRUNCATE"),
    ("auth_group_permissions", ("INSERT", "UPDATE", "DELETE"), "INSERT OR DELETE OR UPDATE OR TRUNCATE"),
    ("auth_permission", ("UPDATE", "DELETE"), "DELETE OR UPDATE"),
]

PG_INSTALL = [
    statement
    for table, _, events in _TABLES
    for statement in (
        f"DROP TRIGGER IF EXISTS {table}_notify_tokens ON {table}",
        f"CREATE TRIGGER {table}_notify_tokens AFTER {events} ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION config_notify_tokens()",
    )
]
PG_UNINSTALL = [f"DROP TRIGGER IF EXISTS {table}_notify_tokens ON {table}" for table, _, _ in _TABLES]

_SQLITE_NAMES = [(f"{table}_count_{event.lower()}", event, table) for table, events, _ in _TABLES for event in events]
SQLITE_INSTALL = [
    statement
    for name, event, table in _SQLITE_NAMES
    for statement in (
        f"DROP TRIGGER IF EXISTS {name}",
        f"CREATE TRIGGER {name} AFTER {event} ON {table} "
        "BEGIN UPDATE configuration_change_counter SET value = value + 1 WHERE id = 1; END",
    )
]
SQLITE_UNINSTALL = [f"DROP TRIGGER IF EXISTS {name}" for name, _, _ in _SQLITE_NAMES]


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for statement in PG_INSTALL if vendor == "postgresql" else SQLITE_INSTALL if vendor == "sqlite" else []:
        schema_editor.execute(statement, params=None)


def uninstall(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for statement in PG_UNINSTALL if vendor == "postgresql" else SQLITE_UNINSTALL if vendor == "sqlite" else []:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("configurations", "0029_optimistic_writes"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
