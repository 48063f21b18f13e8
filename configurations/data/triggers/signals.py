"""Tell running processes that something they cache changed (configurations.runtime).

PostgreSQL: statement-level triggers send ``NOTIFY configurations_changed`` for the values and the metadata, and
``NOTIFY configurations_tokens`` for the tokens and what their owners may do (delivered at commit, never for a
rolled-back transaction): a watcher under a stream of writes stops listening to the first between two refreshes,
never to the second (runtime/watcher.py). SQLite: triggers bump ``configuration_change_counter``, which the watcher
polls. The values, the metadata (defaults are values; password keys are secrets), the API tokens and what their
owners may do (the owner's row, their permissions and groups, the groups' permissions) are watched.
"""

from __future__ import annotations

from .definitions import Function, PostgresTrigger, SqliteTrigger

POSTGRESQL_FUNCTIONS = (
    Function(
        name="config_notify_change",
        arguments="",
        returns="trigger",
        language="plpgsql",
        body=r"""
BEGIN
  -- One notification per statement; PostgreSQL folds duplicates within a transaction.
  PERFORM pg_notify('configurations_changed', TG_OP);
  RETURN NULL;
END
""",
    ),
    Function(
        name="config_notify_tokens",
        arguments="",
        returns="trigger",
        language="plpgsql",
        body=r"""
BEGIN
  PERFORM pg_notify('configurations_tokens', 'tokens');
  RETURN NULL;
END
""",
    ),
)

# The tables whose changes change what a token's owner may do, and the events that do (in pg_get_triggerdef's order;
# SQLite has no TRUNCATE).
_ANY = ("INSERT", "DELETE", "UPDATE", "TRUNCATE")
OWNER_TABLES = (
    ("users_user_permissions", _ANY),
    ("users_groups", _ANY),
    ("auth_group_permissions", _ANY),
    ("auth_permission", ("DELETE", "UPDATE")),
)

POSTGRESQL_TRIGGERS = (
    PostgresTrigger(
        "system_configurations_notify",
        "system_configurations",
        "CREATE TRIGGER system_configurations_notify AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE "
        "ON system_configurations FOR EACH STATEMENT EXECUTE FUNCTION config_notify_change()",
    ),
    PostgresTrigger(
        "configuration_metadata_notify",
        "configuration_metadata",
        "CREATE TRIGGER configuration_metadata_notify AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE "
        "ON configuration_metadata FOR EACH STATEMENT EXECUTE FUNCTION config_notify_change()",
    ),
    PostgresTrigger(
        "configuration_api_tokens_notify",
        "configuration_api_tokens",
        "CREATE TRIGGER configuration_api_tokens_notify AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE "
        "ON configuration_api_tokens FOR EACH STATEMENT EXECUTE FUNCTION config_notify_tokens()",
    ),
    PostgresTrigger(
        "users_notify_tokens",
        "users",
        "CREATE TRIGGER users_notify_tokens AFTER DELETE OR UPDATE ON users "
        "FOR EACH STATEMENT EXECUTE FUNCTION config_notify_tokens()",
    ),
    # What a token's owner may do (migration 0030): the runtime holds it beside the tokens.
    *(
        PostgresTrigger(
            f"{table}_notify_tokens",
            table,
            f"CREATE TRIGGER {table}_notify_tokens AFTER {' OR '.join(events)} ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION config_notify_tokens()",
        )
        for table, events in OWNER_TABLES
    ),
)

_BUMP = "UPDATE configuration_change_counter SET value = value + 1 WHERE id = 1;"
SQLITE_TRIGGERS = (
    *(
        SqliteTrigger(
            f"system_configurations_count_{event.lower()}",
            "system_configurations",
            f"CREATE TRIGGER system_configurations_count_{event.lower()}\n"
            f"AFTER {event} ON system_configurations\nBEGIN\n  {_BUMP}\nEND",
        )
        for event in ("INSERT", "UPDATE", "DELETE")
    ),
    *(
        SqliteTrigger(
            f"configuration_metadata_count_{event.lower()}",
            "configuration_metadata",
            f"CREATE TRIGGER configuration_metadata_count_{event.lower()} AFTER {event} ON configuration_metadata "
            f"BEGIN {_BUMP} END",
        )
        for event in ("INSERT", "UPDATE", "DELETE")
    ),
    *(
        SqliteTrigger(
            f"configuration_api_tokens_count_{event.lower()}",
            "configuration_api_tokens",
            f"CREATE TRIGGER configuration_api_tokens_count_{event.lower()} AFTER {event} ON configuration_api_tokens "
            f"BEGIN {_BUMP} END",
        )
        for event in ("INSERT", "UPDATE", "DELETE")
    ),
    *(
        SqliteTrigger(
            f"users_count_{event.lower()}",
            "users",
            f"CREATE TRIGGER users_count_{event.lower()} AFTER {event} ON users BEGIN {_BUMP} END",
        )
        for event in ("UPDATE", "DELETE")
    ),
    *(
        SqliteTrigger(
            f"{table}_count_{event.lower()}",
            table,
            f"CREATE TRIGGER {table}_count_{event.lower()} AFTER {event} ON {table} BEGIN {_BUMP} END",
        )
        for table, events in OWNER_TABLES
        for event in events
        if event != "TRUNCATE"
    ),
)
