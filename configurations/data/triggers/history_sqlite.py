"""The configuration history on SQLite: the same rows, the same chain, as row-level triggers.

SQLite has no statement-level triggers and no PL/pgSQL, so each INSERT, UPDATE and DELETE of a configuration
runs one trigger that stamps the row, writes its history row, links it into the hash chain and writes its outbox
event. The SQL
functions they call (``current_setting``, ``config_history_value``, ``config_history_content``,
``config_chain_hash``, ``config_next_timestamp``) are registered on every connection by data/sqlfunctions.py.
"""

from __future__ import annotations

from .definitions import SqliteTrigger
from .history_postgresql import EVENT_TYPE_SQL
from .outbox import SUBSCRIBED

HISTORY_COLUMNS = (
    "config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, "
    "category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, "
    "new_is_encrypted, is_secret"
)
CONTENT_ARGUMENTS = (
    "id, config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, "
    "category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, "
    "new_is_encrypted, is_secret"
)

_ACTOR = "NULLIF(current_setting('app.actor', 1), '')"
_CONTEXT = (
    "NULLIF(current_setting('app.reason', 1), ''), "
    "NULLIF(current_setting('app.ip_address', 1), ''), "
    "NULLIF(current_setting('app.user_agent', 1), '')"
)


def _secret(*rows: str) -> str:
    encrypted = " OR ".join(f"{row}.is_encrypted" for row in rows)
    row = rows[-1]
    return (
        f"({encrypted} OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = {row}.category "
        f"AND m.config_key = {row}.config_key AND m.input_type = 'password'))"
    )


_RECORD = (
    f"""
CREATE TRIGGER system_configurations_history_insert
AFTER INSERT ON system_configurations
BEGIN
  -- updated_at in the microsecond format of every trigger-written timestamp (the column
  -- default has milliseconds), so that timestamps compare correctly as text.
  UPDATE system_configurations
     SET updated_by = COALESCE({_ACTOR}, NEW.updated_by), updated_at = config_next_timestamp(NULL)
   WHERE id = NEW.id;
  INSERT INTO configuration_history ({HISTORY_COLUMNS})
  SELECT NEW.id, NULL, config_history_value(NEW.config_value, {_secret("NEW")}),
         COALESCE({_ACTOR}, NEW.updated_by), {_CONTEXT},
         (SELECT c.updated_at FROM system_configurations c WHERE c.id = NEW.id),
         NEW.category, NEW.config_key, NEW.environment, 'create', NULL, NEW.value_type, NULL, NEW.is_encrypted,
         {_secret("NEW")};
END
""",
    f"""
CREATE TRIGGER system_configurations_history_update
AFTER UPDATE ON system_configurations
WHEN OLD.category IS NOT NEW.category OR OLD.config_key IS NOT NEW.config_key
  OR OLD.environment IS NOT NEW.environment OR OLD.config_value IS NOT NEW.config_value
  OR OLD.value_type IS NOT NEW.value_type OR OLD.is_encrypted IS NOT NEW.is_encrypted
  OR OLD.is_active IS NOT NEW.is_active
BEGIN
  UPDATE system_configurations
     SET updated_at = config_next_timestamp(OLD.updated_at), updated_by = COALESCE({_ACTOR}, NEW.updated_by)
   WHERE id = NEW.id;
  INSERT INTO configuration_history ({HISTORY_COLUMNS})
  SELECT NEW.id,
         config_history_value(OLD.config_value, {_secret("OLD", "NEW")}),
         config_history_value(NEW.config_value, {_secret("OLD", "NEW")}),
         COALESCE({_ACTOR}, CASE WHEN NEW.updated_by IS NOT OLD.updated_by THEN NEW.updated_by END),
         {_CONTEXT}, (SELECT c.updated_at FROM system_configurations c WHERE c.id = NEW.id),
         NEW.category, NEW.config_key, NEW.environment,
         CASE WHEN OLD.is_active AND NOT NEW.is_active THEN 'deactivate'
              WHEN NOT OLD.is_active AND NEW.is_active THEN 'reactivate'
              ELSE 'update' END,
         OLD.value_type, NEW.value_type, OLD.is_encrypted, NEW.is_encrypted, {_secret("OLD", "NEW")};
END
""",
    f"""
CREATE TRIGGER system_configurations_history_delete
AFTER DELETE ON system_configurations
BEGIN
  INSERT INTO configuration_history ({HISTORY_COLUMNS})
  SELECT OLD.id, config_history_value(OLD.config_value, {_secret("OLD")}),
         NULL, {_ACTOR}, {_CONTEXT}, config_next_timestamp(NULL),
         OLD.category, OLD.config_key, OLD.environment, 'delete', OLD.value_type, NULL, OLD.is_encrypted, NULL,
         {_secret("OLD")};
END
""",
)

# The previous link: the head's, or, when the head row is gone (a flush, a restore), the trail's last row's.
_PREVIOUS = (
    "COALESCE((SELECT last_hash FROM configuration_history_head WHERE id = 1), "
    "(SELECT t.row_hash FROM (SELECT id, row_hash FROM configuration_history WHERE id < last_insert_rowid() "
    "UNION ALL SELECT id, row_hash FROM configuration_history_archive) t ORDER BY t.id DESC LIMIT 1))"
)
_CHAIN = f"""  UPDATE configuration_history
     SET prev_hash = {_PREVIOUS},
         row_hash = config_chain_hash({_PREVIOUS}, config_history_content({CONTENT_ARGUMENTS}))
   WHERE id = last_insert_rowid();
  INSERT OR REPLACE INTO configuration_history_head (id, last_id, last_hash)
  VALUES (1, last_insert_rowid(), (SELECT row_hash FROM configuration_history WHERE id = last_insert_rowid()));
  -- The transactional outbox: the history row's event (webhooks), while an endpoint exists to receive it.
  INSERT INTO configuration_events (event_type, history_id, category, config_key, environment, created_at)
  SELECT {EVENT_TYPE_SQL.format(action="h.action")}, h.id, h.category, h.config_key, h.environment, h.created_at
    FROM configuration_history h
   WHERE h.id = (SELECT last_id FROM configuration_history_head WHERE id = 1) AND {SUBSCRIBED};
END"""


def _chained(statement: str) -> str:
    """The trigger's history row, then its link in the chain."""
    return statement.strip().removesuffix("END") + _CHAIN


_FILL_IDENTITY = """CREATE TRIGGER configuration_history_fill_identity
AFTER INSERT ON configuration_history
WHEN NEW.category IS NULL
BEGIN
  UPDATE configuration_history
     SET category = (SELECT c.category FROM system_configurations c WHERE c.id = NEW.config_id),
         config_key = (SELECT c.config_key FROM system_configurations c WHERE c.id = NEW.config_id),
         environment = (SELECT c.environment FROM system_configurations c WHERE c.id = NEW.config_id)
   WHERE id = NEW.id;
END"""

SQLITE_TRIGGERS = (
    SqliteTrigger("configuration_history_fill_identity", "configuration_history", _FILL_IDENTITY),
    *(
        SqliteTrigger(f"system_configurations_history_{event}", "system_configurations", _chained(statement))
        for event, statement in zip(("insert", "update", "delete"), _RECORD, strict=True)
    ),
)
