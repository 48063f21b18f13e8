"""History triggers, updated_at/updated_by upkeep and the validation function.

The SQL follows the spec's ``log_configuration_change()`` and
``validate_configuration_value()`` with the defects named in docs/schema.md fixed:
deletes are recorded without a foreign key to the deleted row, creation,
(de)activation and type/encryption changes are recorded too, no fake actor,
``updated_at`` moves on every real change, secrets never reach history, and
the validation function reads the type from the right tables.

The SQL is picked by database vendor. SQLite gets the same behaviour from
SQLite triggers that call functions registered by configurations.backends.sqlite3;
configurations.installation re-creates them after every migrate, since SQLite
drops a table's triggers when a migration rebuilds it.
"""

from django.db import migrations

HISTORY_COLUMNS = (
    "config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, "
    "category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, new_is_encrypted"
)

# --------------------------------------------------------------------------- PostgreSQL

PG_INSTALL = [
    r"""
CREATE OR REPLACE FUNCTION config_audit_setting(p_name text) RETURNS text
LANGUAGE sql STABLE AS $$
  -- Transaction-local context set by the application; '' once a transaction that set it is over.
  SELECT NULLIF(current_setting('app.' || p_name, true), '')
$$;
""",
    r"""
CREATE OR REPLACE FUNCTION config_history_value(p_value text, p_secret boolean) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  -- What history keeps of a value: never a secret's plaintext nor its ciphertext.
  SELECT CASE
    WHEN p_value IS NULL THEN NULL
    WHEN p_value LIKE 'encrypted:%' THEN
      '[secret key=' || COALESCE(NULLIF(split_part(p_value, ':', 4), ''), '?')
      || ' sha256=' || left(encode(sha256(convert_to(p_value, 'UTF8')), 'hex'), 16) || ']'
    WHEN p_secret THEN '[secret]'
    ELSE p_value
  END
$$;
""",
    r"""
CREATE OR REPLACE FUNCTION config_touch_row() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_actor uuid := config_audit_setting('actor')::uuid;
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF (NEW.category, NEW.config_key, NEW.environment, NEW.config_value,
        NEW.value_type, NEW.is_encrypted, NEW.is_active)
       IS NOT DISTINCT FROM
       (OLD.category, OLD.config_key, OLD.environment, OLD.config_value,
        OLD.value_type, OLD.is_encrypted, OLD.is_active)
    THEN
      -- Nothing changed: the row keeps its timestamp and no history is written.
      NEW.updated_at := OLD.updated_at;
      RETURN NEW;
    END IF;
    -- Strictly later than before, even if the clock stands still or steps back.
    NEW.updated_at := GREATEST(clock_timestamp(), OLD.updated_at + interval '1 microsecond');
  END IF;
  IF v_actor IS NOT NULL THEN
    NEW.updated_by := v_actor;
  END IF;
  RETURN NEW;
END
$$;
""",
    rf"""
CREATE OR REPLACE FUNCTION log_configuration_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_actor uuid := config_audit_setting('actor')::uuid;
  v_reason text := config_audit_setting('reason');
  v_ip inet := config_audit_setting('ip_address')::inet;
  v_agent text := config_audit_setting('user_agent');
BEGIN
  -- Statement-level: one set-based INSERT per statement, however many rows it touched.
  IF TG_OP = 'INSERT' THEN
    INSERT INTO configuration_history ({HISTORY_COLUMNS})
    SELECT n.id, NULL,
           config_history_value(n.config_value, n.is_encrypted OR COALESCE(m.input_type = 'password', false)),
           COALESCE(v_actor, n.updated_by), v_reason, v_ip, v_agent, n.updated_at,
           n.category, n.config_key, n.environment, 'create', NULL, n.value_type, NULL, n.is_encrypted
    FROM new_rows n
    LEFT JOIN configuration_metadata m ON m.category = n.category AND m.config_key = n.config_key
    ORDER BY n.id;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO configuration_history ({HISTORY_COLUMNS})
    SELECT n.id,
           config_history_value(o.config_value, s.secret),
           config_history_value(n.config_value, s.secret),
           COALESCE(v_actor, NULLIF(n.updated_by, o.updated_by)), v_reason, v_ip, v_agent, n.updated_at,
           n.category, n.config_key, n.environment,
           CASE WHEN o.is_active AND NOT n.is_active THEN 'deactivate'
                WHEN NOT o.is_active AND n.is_active THEN 'reactivate'
                ELSE 'update' END,
           o.value_type, n.value_type, o.is_encrypted, n.is_encrypted
    FROM old_rows o
    JOIN new_rows n ON n.id = o.id
    LEFT JOIN configuration_metadata m ON m.category = n.category AND m.config_key = n.config_key
    CROSS JOIN LATERAL (
      SELECT o.is_encrypted OR n.is_encrypted OR COALESCE(m.input_type = 'password', false) AS secret
    ) s
    WHERE (o.category, o.config_key, o.environment, o.config_value, o.value_type, o.is_encrypted, o.is_active)
          IS DISTINCT FROM
          (n.category, n.config_key, n.environment, n.config_value, n.value_type, n.is_encrypted, n.is_active)
    ORDER BY n.id;
  ELSIF TG_OP = 'DELETE' THEN
    -- No foreign key from history to the deleted row: the trail outlives it.
    INSERT INTO configuration_history ({HISTORY_COLUMNS})
    SELECT o.id,
           config_history_value(o.config_value, o.is_encrypted OR COALESCE(m.input_type = 'password', false)),
           NULL, v_actor, v_reason, v_ip, v_agent, clock_timestamp(),
           o.category, o.config_key, o.environment, 'delete', o.value_type, NULL, o.is_encrypted, NULL
    FROM old_rows o
    LEFT JOIN configuration_metadata m ON m.category = o.category AND m.config_key = o.config_key
    ORDER BY o.id;
  END IF;
  RETURN NULL;
END
$$;
""",
    r"""
CREATE OR REPLACE FUNCTION config_history_fill_identity() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- History written by hand (as in the spec's sample data) names only config_id.
  SELECT c.category, c.config_key, c.environment
    INTO NEW.category, NEW.config_key, NEW.environment
    FROM system_configurations c WHERE c.id = NEW.config_id;
  RETURN NEW;
END
$$;
""",
    "DROP TRIGGER IF EXISTS system_configurations_touch ON system_configurations",
    """
CREATE TRIGGER system_configurations_touch
  BEFORE INSERT OR UPDATE ON system_configurations
  FOR EACH ROW EXECUTE FUNCTION config_touch_row()
""",
    "DROP TRIGGER IF EXISTS system_configurations_history_insert ON system_configurations",
    """
CREATE TRIGGER system_configurations_history_insert
  AFTER INSERT ON system_configurations
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION log_configuration_change()
""",
    "DROP TRIGGER IF EXISTS system_configurations_history_update ON system_configurations",
    """
CREATE TRIGGER system_configurations_history_update
  AFTER UPDATE ON system_configurations
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION log_configuration_change()
""",
    "DROP TRIGGER IF EXISTS system_configurations_history_delete ON system_configurations",
    """
CREATE TRIGGER system_configurations_history_delete
  AFTER DELETE ON system_configurations
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION log_configuration_change()
""",
    "DROP TRIGGER IF EXISTS configuration_history_fill_identity ON configuration_history",
    """
CREATE TRIGGER configuration_history_fill_identity
  BEFORE INSERT ON configuration_history
  FOR EACH ROW WHEN (NEW.category IS NULL) EXECUTE FUNCTION config_history_fill_identity()
""",
    r"""
CREATE OR REPLACE FUNCTION validate_configuration_value(
  p_category VARCHAR,
  p_config_key VARCHAR,
  p_config_value TEXT,
  p_environment VARCHAR DEFAULT NULL
) RETURNS BOOLEAN
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_metadata configuration_metadata%ROWTYPE;
  v_rules JSONB;
  v_value_type VARCHAR;
  v_required BOOLEAN;
BEGIN
  SELECT * INTO v_metadata
  FROM configuration_metadata
  WHERE category = p_category AND config_key = p_config_key;

  IF NOT FOUND THEN
    -- No metadata means no validation required.
    RETURN TRUE;
  END IF;

  v_rules := COALESCE(v_metadata.validation_rules, '{}'::jsonb);
  IF jsonb_typeof(v_rules) <> 'object' THEN
    v_rules := '{}'::jsonb;
  END IF;

  -- The type lives on the configuration row, not on the metadata (the spec's defect).
  SELECT c.value_type INTO v_value_type
  FROM system_configurations c
  WHERE c.category = p_category AND c.config_key = p_config_key
    AND (p_environment IS NULL OR c.environment = p_environment)
  ORDER BY c.is_active DESC, c.id
  LIMIT 1;

  v_required := v_metadata.is_required OR COALESCE((v_rules->>'required')::boolean, false);
  IF p_config_value IS NULL OR p_config_value = '' THEN
    -- An empty value is valid exactly when it is not required; other rules apply to values.
    RETURN NOT v_required;
  END IF;

  IF v_rules ? 'minLength' AND char_length(p_config_value) < (v_rules->>'minLength')::integer THEN
    RETURN FALSE;
  END IF;
  IF v_rules ? 'maxLength' AND char_length(p_config_value) > (v_rules->>'maxLength')::integer THEN
    RETURN FALSE;
  END IF;

  IF v_metadata.input_type = 'number' OR v_value_type = 'number' THEN
    IF p_config_value !~ '^-?[0-9]+(\.[0-9]+)?$' THEN
      RETURN FALSE;
    END IF;
    IF v_rules ? 'min' AND p_config_value::numeric < (v_rules->>'min')::numeric THEN
      RETURN FALSE;
    END IF;
    IF v_rules ? 'max' AND p_config_value::numeric > (v_rules->>'max')::numeric THEN
      RETURN FALSE;
    END IF;
  END IF;

  IF v_rules ? 'options' AND jsonb_typeof(v_rules->'options') = 'array' AND NOT EXISTS (
    SELECT 1 FROM jsonb_array_elements_text(v_rules->'options') AS o(option) WHERE o.option = p_config_value
  ) THEN
    RETURN FALSE;
  END IF;

  IF v_rules ? 'pattern' AND p_config_value !~ (v_rules->>'pattern') THEN
    RETURN FALSE;
  END IF;

  RETURN TRUE;
END
$$;
""",
]

PG_UNINSTALL = [
    "DROP TRIGGER IF EXISTS configuration_history_fill_identity ON configuration_history",
    "DROP TRIGGER IF EXISTS system_configurations_history_delete ON system_configurations",
    "DROP TRIGGER IF EXISTS system_configurations_history_update ON system_configurations",
    "DROP TRIGGER IF EXISTS system_configurations_history_insert ON system_configurations",
    "DROP TRIGGER IF EXISTS system_configurations_touch ON system_configurations",
    "DROP FUNCTION IF EXISTS validate_configuration_value(VARCHAR, VARCHAR, TEXT, VARCHAR)",
    "DROP FUNCTION IF EXISTS config_history_fill_identity()",
    "DROP FUNCTION IF EXISTS log_configuration_change()",
    "DROP FUNCTION IF EXISTS config_touch_row()",
    "DROP FUNCTION IF EXISTS config_history_value(text, boolean)",
    "DROP FUNCTION IF EXISTS config_audit_setting(text)",
]

# ------------------------------------------------------------------------------- SQLite

_SQLITE_NOW = "config_next_timestamp(NULL)"
_SQLITE_ACTOR = "NULLIF(current_setting('app.actor', 1), '')"
_SQLITE_CONTEXT = (
    "NULLIF(current_setting('app.reason', 1), ''), "
    "NULLIF(current_setting('app.ip_address', 1), ''), "
    "NULLIF(current_setting('app.user_agent', 1), '')"
)


def _sqlite_password_key(row: str) -> str:
    return (
        "EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = "
        f"{row}.category AND m.config_key = {row}.config_key AND m.input_type = 'password')"
    )


SQLITE_INSTALL = [
    "DROP TRIGGER IF EXISTS system_configurations_history_insert",
    f"""
CREATE TRIGGER system_configurations_history_insert
AFTER INSERT ON system_configurations
BEGIN
  -- updated_at in the microsecond format of every trigger-written timestamp (the column
  -- default has milliseconds), so that timestamps compare correctly as text.
  UPDATE system_configurations
     SET updated_by = COALESCE({_SQLITE_ACTOR}, NEW.updated_by), updated_at = config_next_timestamp(NULL)
   WHERE id = NEW.id;
  INSERT INTO configuration_history ({HISTORY_COLUMNS})
  SELECT NEW.id, NULL,
         config_history_value(NEW.config_value, NEW.is_encrypted OR {_sqlite_password_key("NEW")}),
         COALESCE({_SQLITE_ACTOR}, NEW.updated_by), {_SQLITE_CONTEXT},
         (SELECT c.updated_at FROM system_configurations c WHERE c.id = NEW.id),
         NEW.category, NEW.config_key, NEW.environment, 'create', NULL, NEW.value_type, NULL, NEW.is_encrypted;
END
""",
    "DROP TRIGGER IF EXISTS system_configurations_history_update",
    f"""
CREATE TRIGGER system_configurations_history_update
AFTER UPDATE ON system_configurations
WHEN OLD.category IS NOT NEW.category OR OLD.config_key IS NOT NEW.config_key
  OR OLD.environment IS NOT NEW.environment OR OLD.config_value IS NOT NEW.config_value
  OR OLD.value_type IS NOT NEW.value_type OR OLD.is_encrypted IS NOT NEW.is_encrypted
  OR OLD.is_active IS NOT NEW.is_active
BEGIN
  UPDATE system_configurations
     SET updated_at = config_next_timestamp(OLD.updated_at), updated_by = COALESCE({_SQLITE_ACTOR}, NEW.updated_by)
   WHERE id = NEW.id;
  INSERT INTO configuration_history ({HISTORY_COLUMNS})
  SELECT NEW.id,
         config_history_value(OLD.config_value, OLD.is_encrypted OR NEW.is_encrypted OR {_sqlite_password_key("NEW")}),
         config_history_value(NEW.config_value, OLD.is_encrypted OR NEW.is_encrypted OR {_sqlite_password_key("NEW")}),
         COALESCE({_SQLITE_ACTOR}, CASE WHEN NEW.updated_by IS NOT OLD.updated_by THEN NEW.updated_by END),
         {_SQLITE_CONTEXT}, (SELECT c.updated_at FROM system_configurations c WHERE c.id = NEW.id),
         NEW.category, NEW.config_key, NEW.environment,
         CASE WHEN OLD.is_active AND NOT NEW.is_active THEN 'deactivate'
              WHEN NOT OLD.is_active AND NEW.is_active THEN 'reactivate'
              ELSE 'update' END,
         OLD.value_type, NEW.value_type, OLD.is_encrypted, NEW.is_encrypted;
END
""",
    "DROP TRIGGER IF EXISTS system_configurations_history_delete",
    f"""
CREATE TRIGGER system_configurations_history_delete
AFTER DELETE ON system_configurations
BEGIN
  INSERT INTO configuration_history ({HISTORY_COLUMNS})
  SELECT OLD.id,
         config_history_value(OLD.config_value, OLD.is_encrypted OR {_sqlite_password_key("OLD")}),
         NULL, {_SQLITE_ACTOR}, {_SQLITE_CONTEXT}, {_SQLITE_NOW},
         OLD.category, OLD.config_key, OLD.environment, 'delete', OLD.value_type, NULL, OLD.is_encrypted, NULL;
END
""",
    "DROP TRIGGER IF EXISTS configuration_history_fill_identity",
    """
CREATE TRIGGER configuration_history_fill_identity
AFTER INSERT ON configuration_history
WHEN NEW.category IS NULL
BEGIN
  UPDATE configuration_history
     SET category = (SELECT c.category FROM system_configurations c WHERE c.id = NEW.config_id),
         config_key = (SELECT c.config_key FROM system_configurations c WHERE c.id = NEW.config_id),
         environment = (SELECT c.environment FROM system_configurations c WHERE c.id = NEW.config_id)
   WHERE id = NEW.id;
END
""",
]

SQLITE_UNINSTALL = [
    "DROP TRIGGER IF EXISTS configuration_history_fill_identity",
    "DROP TRIGGER IF EXISTS system_configurations_history_delete",
    "DROP TRIGGER IF EXISTS system_configurations_history_update",
    "DROP TRIGGER IF EXISTS system_configurations_history_insert",
]

SQL = {
    "postgresql": (PG_INSTALL, PG_UNINSTALL),
    "sqlite": (SQLITE_INSTALL, SQLITE_UNINSTALL),
}


def _run(schema_editor, index: int) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in SQL:
        raise NotImplementedError(f"The configuration history triggers support PostgreSQL and SQLite, not {vendor}.")
    for statement in SQL[vendor][index]:
        schema_editor.execute(statement, params=None)


def install(apps, schema_editor) -> None:
    _run(schema_editor, 0)


def uninstall(apps, schema_editor) -> None:
    _run(schema_editor, 1)


class Migration(migrations.Migration):
    dependencies = [("configurations", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall)]
