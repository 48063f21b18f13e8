"""Tell running processes that API tokens changed, so that they authenticate from memory (docs/api.md).

PostgreSQL: statement-level triggers on the tokens and on users (an owner deactivated, a superuser demoted) send
``NOTIFY configurations_changed, 'tokens'`` on commit; the runtime watcher reloads the tokens. SQLite: triggers
bump the change counter the watcher polls.
"""

from django.db import migrations

PG_INSTALL = [
    """
CREATE OR REPLACE FUNCTION config_notify_tokens() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('configurations_changed', 'tokens');
  RETURN NULL;
END
$$;
""",
    "DROP TRIGGER IF EXISTS configuration_api_tokens_notify ON configuration_api_tokens",
    """
CREATE TRIGGER configuration_api_tokens_notify
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON configuration_api_tokens
  FOR EACH STATEMENT EXECUTE FUNCTION config_notify_tokens()
""",
    "DROP TRIGGER IF EXISTS users_notify_tokens ON users",
    """
CREATE TRIGGER users_notify_tokens
  AFTER UPDATE OR DELETE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION config_notify_tokens()
""",
]

PG_UNINSTALL = [
    "DROP TRIGGER IF EXISTS configuration_api_tokens_notify ON configuration_api_tokens",
    "DROP TRIGGER IF EXISTS users_notify_tokens ON users",
    "DROP FUNCTION IF EXISTS config_notify_tokens()",
]

_SQLITE_TRIGGERS = [
    ("configuration_api_tokens_count_insert", "INSERT", "configuration_api_tokens"),
    ("configuration_api_tokens_count_update", "UPDATE", "configuration_api_tokens"),
    ("configuration_api_tokens_count_delete", "DELETE", "configuration_api_tokens"),
    ("users_count_update", "UPDATE", "users"),
    ("users_count_delete", "DELETE", "users"),
]

SQLITE_INSTALL = [
    statement
    for name, event, table in _SQLITE_TRIGGERS
    for statement in (
        f"DROP TRIGGER IF EXISTS {name}",
        f"CREATE TRIGGER {name} AFTER {event} ON {table} "
        "BEGIN UPDATE configuration_change_counter SET value = value + 1 WHERE id = 1; END",
    )
]

SQLITE_UNINSTALL = [f"DROP TRIGGER IF EXISTS {name}" for name, _, _ in _SQLITE_TRIGGERS]


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for statement in PG_INSTALL if vendor == "postgresql" else SQLITE_INSTALL if vendor == "sqlite" else []:
        schema_editor.execute(statement, params=None)


def uninstall(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for statement in PG_UNINSTALL if vendor == "postgresql" else SQLITE_UNINSTALL if vendor == "sqlite" else []:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("configurations", "0014_api_tokens")]

    operations = [migrations.RunPython(install, uninstall)]
