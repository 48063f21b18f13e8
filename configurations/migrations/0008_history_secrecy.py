"""History decides secrecy from the row, never from a value's text.

Before: a plain value that began with ``encrypted:`` was kept as a secret marker, and readers took any value
beginning with ``[secret`` for a secret. Now the trigger hides a value exactly when the row is a secret
(encrypted before or after, or a password key by its metadata) and records that in a new column,
``is_secret``, which readers use together with ``old_is_encrypted``/``new_is_encrypted``. Existing history
rows get ``is_secret`` from their own flags and today's metadata.

The reverse restores the bodies of 0002_history_triggers.
"""

from django.db import migrations, models

HISTORY_COLUMNS = (
    "config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, "
    "category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, "
    "new_is_encrypted, is_secret"
)

PG_INSTALL = [
    r"""
CREATE OR REPLACE FUNCTION config_history_value(p_value text, p_secret boolean) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  -- What history keeps of a value: a secret's neither plaintext nor ciphertext; anything else as it is.
  SELECT CASE
    WHEN p_value IS NULL THEN NULL
    WHEN NOT COALESCE(p_secret, false) THEN p_value
    WHEN p_value LIKE 'encrypted:%' THEN
      '[secret key=' || COALESCE(NULLIF(split_part(p_value, ':', 4), ''), '?')
      || ' sha256=' || left(encode(sha256(convert_to(p_value, 'UTF8')), 'hex'), 16) || ']'
    ELSE '[secret]'
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
    SELECT n.id, NULL, config_history_value(n.config_value, s.secret),
           COALESCE(v_actor, n.updated_by), v_reason, v_ip, v_agent, n.updated_at,
           n.category, n.config_key, n.environment, 'create', NULL, n.value_type, NULL, n.is_encrypted, s.secret
    FROM new_rows n
    LEFT JOIN configuration_metadata m ON m.category = n.category AND m.config_key = n.config_key
    CROSS JOIN LATERAL (SELECT n.is_encrypted OR COALESCE(m.input_type = 'password', false) AS secret) s
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
           o.value_type, n.value_type, o.is_encrypted, n.is_encrypted, s.secret
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
    SELECT o.id, config_history_value(o.config_value, s.secret),
           NULL, v_actor, v_reason, v_ip, v_agent, clock_timestamp(),
           o.category, o.config_key, o.environment, 'delete', o.value_type, NULL, o.is_encrypted, NULL, s.secret
    FROM old_rows o
    LEFT JOIN configuration_metadata m ON m.category = o.category AND m.config_key = o.config_key
    CROSS JOIN LATERAL (SELECT o.is_encrypted OR COALESCE(m.input_type = 'password', false) AS secret) s
    ORDER BY o.id;
  END IF;
  RETURN NULL;
END
$$;
""",
]

_SQLITE_ACTOR = "NULLIF(current_setting('app.actor', 1), '')"
_SQLITE_CONTEXT = (
    "NULLIF(current_setting('app.reason', 1), ''), "
    "NULLIF(current_setting('app.ip_address', 1), ''), "
    "NULLIF(current_setting('app.user_agent', 1), '')"
)


def _sqlite_secret(*rows: str) -> str:
    encrypted = " OR ".join(f"{row}.is_encrypted" for row in rows)
    row = rows[-1]
    return (
        f"({encrypted} OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = {row}.category "
        f"AND m.config_key = {row}.config_key AND m.input_type = 'password'))"
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
  SELECT NEW.id, NULL, config_history_value(NEW.config_value, {_sqlite_secret("NEW")}),
         COALESCE({_SQLITE_ACTOR}, NEW.updated_by), {_SQLITE_CONTEXT},
         (SELECT c.updated_at FROM system_configurations c WHERE c.id = NEW.id),
         NEW.category, NEW.config_key, NEW.environment, 'create', NULL, NEW.value_type, NULL, NEW.is_encrypted,
         {_sqlite_secret("NEW")};
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
         config_history_value(OLD.config_value, {_sqlite_secret("OLD", "NEW")}),
         config_history_value(NEW.config_value, {_sqlite_secret("OLD", "NEW")}),
         COALESCE({_SQLITE_ACTOR}, CASE WHEN NEW.updated_by IS NOT OLD.updated_by THEN NEW.updated_by END),
         {_SQLITE_CONTEXT}, (SELECT c.updated_at FROM system_configurations c WHERE c.id = NEW.id),
         NEW.category, NEW.config_key, NEW.environment,
         CASE WHEN OLD.is_active AND NOT NEW.is_active THEN 'deactivate'
              WHEN NOT OLD.is_active AND NEW.is_active THEN 'reactivate'
              ELSE 'update' END,
         OLD.value_type, NEW.value_type, OLD.is_encrypted, NEW.is_encrypted, {_sqlite_secret("OLD", "NEW")};
END
""",
    "DROP TRIGGER IF EXISTS system_configurations_history_delete",
    f"""
CREATE TRIGGER system_configurations_history_delete
AFTER DELETE ON system_configurations
BEGIN
  INSERT INTO configuration_history ({HISTORY_COLUMNS})
  SELECT OLD.id, config_history_value(OLD.config_value, {_sqlite_secret("OLD")}),
         NULL, {_SQLITE_ACTOR}, {_SQLITE_CONTEXT}, config_next_timestamp(NULL),
         OLD.category, OLD.config_key, OLD.environment, 'delete', OLD.value_type, NULL, OLD.is_encrypted, NULL,
         {_sqlite_secret("OLD")};
END
""",
]

BACKFILL = [
    f"""
UPDATE {table} SET is_secret = (
  COALESCE(old_is_encrypted, false) OR COALESCE(new_is_encrypted, false)
  OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = {table}.category
             AND m.config_key = {table}.config_key AND m.input_type = 'password'))
"""
    for table in ("configuration_history", "configuration_history_archive")
]


# Frozen copies of what 0002_history_triggers installed, for the reverse.
PG_0002_FUNCTIONS = [
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
    INSERT INTO configuration_history (config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, new_is_encrypted)
    SELECT n.id, NULL,
           config_history_value(n.config_value, n.is_encrypted OR COALESCE(m.input_type = 'password', false)),
           COALESCE(v_actor, n.updated_by), v_reason, v_ip, v_agent, n.updated_at,
           n.category, n.config_key, n.environment, 'create', NULL, n.value_type, NULL, n.is_encrypted
    FROM new_rows n
    LEFT JOIN configuration_metadata m ON m.category = n.category AND m.config_key = n.config_key
    ORDER BY n.id;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO configuration_history (config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, new_is_encrypted)
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
    INSERT INTO configuration_history (config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, new_is_encrypted)
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
]

SQLITE_0002 = [
    "DROP TRIGGER IF EXISTS system_configurations_history_insert",
    r"""
CREATE TRIGGER system_configurations_history_insert
AFTER INSERT ON system_configurations
BEGIN
  -- updated_at in the microsecond format of every trigger-written timestamp (the column
  -- default has milliseconds), so that timestamps compare correctly as text.
  UPDATE system_configurations
     SET updated_by = COALESCE(NULLIF(current_setting('app.actor', 1), ''), NEW.updated_by), updated_at = config_next_timestamp(NULL)
   WHERE id = NEW.id;
  INSERT INTO configuration_history (config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, new_is_encrypted)
  SELECT NEW.id, NULL,
         config_history_value(NEW.config_value, NEW.is_encrypted OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = NEW.category AND m.config_key = NEW.config_key AND m.input_type = 'password')),
         COALESCE(NULLIF(current_setting('app.actor', 1), ''), NEW.updated_by), NULLIF(current_setting('app.reason', 1), ''), NULLIF(current_setting('app.ip_address', 1), ''), NULLIF(current_setting('app.user_agent', 1), ''),
         (SELECT c.updated_at FROM system_configurations c WHERE c.id = NEW.id),
         NEW.category, NEW.config_key, NEW.environment, 'create', NULL, NEW.value_type, NULL, NEW.is_encrypted;
END
""",
    "DROP TRIGGER IF EXISTS system_configurations_history_update",
    r"""
CREATE TRIGGER system_configurations_history_update
AFTER UPDATE ON system_configurations
WHEN OLD.category IS NOT NEW.category OR OLD.config_key IS NOT NEW.config_key
  OR OLD.environment IS NOT NEW.environment OR OLD.config_value IS NOT NEW.config_value
  OR OLD.value_type IS NOT NEW.value_type OR OLD.is_encrypted IS NOT NEW.is_encrypted
  OR OLD.is_active IS NOT NEW.is_active
BEGIN
  UPDATE system_configurations
     SET updated_at = config_next_timestamp(OLD.updated_at), updated_by = COALESCE(NULLIF(current_setting('app.actor', 1), ''), NEW.updated_by)
   WHERE id = NEW.id;
  INSERT INTO configuration_history (config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, new_is_encrypted)
  SELECT NEW.id,
         config_history_value(OLD.config_value, OLD.is_encrypted OR NEW.is_encrypted OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = NEW.category AND m.config_key = NEW.config_key AND m.input_type = 'password')),
         config_history_value(NEW.config_value, OLD.is_encrypted OR NEW.is_encrypted OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = NEW.category AND m.config_key = NEW.config_key AND m.input_type = 'password')),
         COALESCE(NULLIF(current_setting('app.actor', 1), ''), CASE WHEN NEW.updated_by IS NOT OLD.updated_by THEN NEW.updated_by END),
         NULLIF(current_setting('app.reason', 1), ''), NULLIF(current_setting('app.ip_address', 1), ''), NULLIF(current_setting('app.user_agent', 1), ''), (SELECT c.updated_at FROM system_configurations c WHERE c.id = NEW.id),
         NEW.category, NEW.config_key, NEW.environment,
         CASE WHEN OLD.is_active AND NOT NEW.is_active THEN 'deactivate'
              WHEN NOT OLD.is_active AND NEW.is_active THEN 'reactivate'
              ELSE 'update' END,
         OLD.value_type, NEW.value_type, OLD.is_encrypted, NEW.is_encrypted;
END
""",
    "DROP TRIGGER IF EXISTS system_configurations_history_delete",
    r"""
CREATE TRIGGER system_configurations_history_delete
AFTER DELETE ON system_configurations
BEGIN
  INSERT INTO configuration_history (config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, new_is_encrypted)
  SELECT OLD.id,
         config_history_value(OLD.config_value, OLD.is_encrypted OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = OLD.category AND m.config_key = OLD.config_key AND m.input_type = 'password')),
         NULL, NULLIF(current_setting('app.actor', 1), ''), NULLIF(current_setting('app.reason', 1), ''), NULLIF(current_setting('app.ip_address', 1), ''), NULLIF(current_setting('app.user_agent', 1), ''), config_next_timestamp(NULL),
         OLD.category, OLD.config_key, OLD.environment, 'delete', OLD.value_type, NULL, OLD.is_encrypted, NULL;
END
""",
    "DROP TRIGGER IF EXISTS configuration_history_fill_identity",
    r"""
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


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": PG_INSTALL, "sqlite": SQLITE_INSTALL}.get(vendor)
    if statements is None:
        raise NotImplementedError(f"The configuration history triggers support PostgreSQL and SQLite, not {vendor}.")
    for statement in [*statements, *BACKFILL]:
        schema_editor.execute(statement, params=None)


def uninstall(apps, schema_editor) -> None:
    statements = PG_0002_FUNCTIONS if schema_editor.connection.vendor == "postgresql" else SQLITE_0002
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("configurations", "0007_sent_test_emails")]

    operations = [
        migrations.AddField(
            model_name="configurationhistory",
            name="is_secret",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="configurationhistoryarchive",
            name="is_secret",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.RunPython(install, uninstall),
    ]
