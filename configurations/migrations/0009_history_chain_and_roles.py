"""Tamper-evident history and the spec's row-level security, made real (PostgreSQL; the chain on SQLite too).

- Every history row written by the configurations trigger carries ``prev_hash`` and ``row_hash``:
  ``row_hash = sha256(prev_hash || content)`` (configurations/data/chain.py is the Python twin). Writers lock
  the one-row ``configuration_history_head`` until they commit, so concurrent writers cannot fork the chain.
  A row inserted into history any other way has no hash: ``verify_history`` reports it. Existing rows are
  chained in id order by this migration.
- On PostgreSQL the trigger function is ``SECURITY DEFINER``: it writes history as the tables' owner, so the
  application role needs no write privilege on history at all (setup_database_roles grants it SELECT only).
- ``current_user_id()`` is the actor of the current transaction (the transaction-local audit context) and the
  view ``user_permissions(user_id, allowed_environments)`` says which environments each user may edit, as the
  Django permissions do; ``setup_database_roles`` creates the spec's policy on top of them.
- ``config_archive_history(cutoff, last_id)`` moves old rows to the archive, never edits them; it is owned by
  the owner role, so the application role may archive without any right on the history's rows.

The reverse restores the bodies of 0008_history_secrecy.
"""

from django.db import migrations, models

CONTENT_ARGUMENTS = (
    "id, config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, "
    "category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, "
    "new_is_encrypted, is_secret"
)

# Each changed row with the id it will have and its canonical content, in the order the chain takes them.
# The id is drawn in the inner query (volatile, so evaluated once per row, in order); the content is computed
# from it set-based, with the SQL functions inlined.
_ENTRIES = (
    "SELECT e.*, config_history_content(e.id, e.config_id, e.old_value, e.new_value, e.changed_by, v_reason, v_ip, "
    "v_agent, e.created_at, e.category, e.config_key, e.environment, e.action, e.old_value_type, e.new_value_type, "
    "e.old_is_encrypted, e.new_is_encrypted, e.is_secret) AS content FROM ("
    "SELECT nextval(pg_get_serial_sequence('configuration_history', 'id')) AS id, q.* FROM"
)

PG_INSTALL = [
    r"""
CREATE OR REPLACE FUNCTION config_history_field(p text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p IS NULL THEN '~' ELSE char_length(p)::text || ':' || p END
$$;
""",
    r"""
CREATE OR REPLACE FUNCTION config_history_flag(p boolean) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p IS NULL THEN NULL WHEN p THEN 'true' ELSE 'false' END
$$;
""",
    r"""
CREATE OR REPLACE FUNCTION config_history_content(
  p_id bigint, p_config_id bigint, p_old_value text, p_new_value text, p_changed_by uuid, p_change_reason text,
  p_ip_address inet, p_user_agent text, p_created_at timestamptz, p_category text, p_config_key text,
  p_environment text, p_action text, p_old_value_type text, p_new_value_type text,
  p_old_is_encrypted boolean, p_new_is_encrypted boolean, p_is_secret boolean
) RETURNS text
LANGUAGE sql STABLE AS $$
  -- The canonical text of a history row (twin: configurations/data/chain.py). STABLE, not IMMUTABLE, like the
  -- epoch of a timestamptz it uses, so that PostgreSQL inlines it into the trigger's query (8x faster).
  SELECT config_history_field(p_id::text) || config_history_field(p_config_id::text)
      || config_history_field(p_old_value) || config_history_field(p_new_value)
      || config_history_field(replace(p_changed_by::text, '-', '')) || config_history_field(p_change_reason)
      || config_history_field(host(p_ip_address)) || config_history_field(p_user_agent)
      || config_history_field((extract(epoch FROM p_created_at) * 1000000)::bigint::text)
      || config_history_field(p_category) || config_history_field(p_config_key)
      || config_history_field(p_environment) || config_history_field(p_action)
      || config_history_field(p_old_value_type) || config_history_field(p_new_value_type)
      || config_history_field(config_history_flag(p_old_is_encrypted))
      || config_history_field(config_history_flag(p_new_is_encrypted))
      || config_history_field(config_history_flag(p_is_secret))
$$;
""",
    r"""
CREATE OR REPLACE FUNCTION config_chain_hash(p_previous text, p_content text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT encode(sha256(convert_to(COALESCE(p_previous, '') || p_content, 'UTF8')), 'hex')
$$;
""",
    r"""
CREATE OR REPLACE FUNCTION log_configuration_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  v_actor uuid := config_audit_setting('actor')::uuid;
  v_reason text := config_audit_setting('reason');
  v_ip inet := config_audit_setting('ip_address')::inet;
  v_agent text := config_audit_setting('user_agent');
  v_changes refcursor;
  r record;
  v_rows configuration_history[] := '{}';
  v_prev text;
  v_hash text;
  v_last bigint;
BEGIN
  -- One writer at a time extends the chain, from before its first id is drawn (ids follow the chain) until its
  -- transaction ends.
  SELECT last_hash INTO v_prev FROM configuration_history_head WHERE id = 1 FOR UPDATE;
  IF NOT FOUND THEN
    -- The head row is gone (a flush, a restore): the chain goes on from the trail's last row.
    INSERT INTO configuration_history_head (id, last_id, last_hash)
      SELECT 1, max(t.id), (array_agg(t.row_hash ORDER BY t.id DESC))[1]
      FROM (SELECT id, row_hash FROM configuration_history
            UNION ALL SELECT id, row_hash FROM configuration_history_archive) t
      ON CONFLICT (id) DO NOTHING;
    SELECT last_hash INTO v_prev FROM configuration_history_head WHERE id = 1 FOR UPDATE;
  END IF;
  -- Statement-level: the changed rows of the whole statement in id order, with ids and canonical content
  -- computed set-based; then each row is chained to the last and all are inserted with one statement.
  IF TG_OP = 'INSERT' THEN
    OPEN v_changes FOR {entries} (
      SELECT n.id AS config_id, NULL::text AS old_value, config_history_value(n.config_value, s.secret) AS new_value,
             COALESCE(v_actor, n.updated_by) AS changed_by, n.updated_at AS created_at,
             n.category, n.config_key, n.environment, 'create'::varchar AS action,
             NULL::varchar AS old_value_type, n.value_type AS new_value_type,
             NULL::boolean AS old_is_encrypted, n.is_encrypted AS new_is_encrypted, s.secret AS is_secret
      FROM new_rows n
      LEFT JOIN configuration_metadata m ON m.category = n.category AND m.config_key = n.config_key
      CROSS JOIN LATERAL (SELECT n.is_encrypted OR COALESCE(m.input_type = 'password', false) AS secret) s
      ORDER BY n.id) q) e;
  ELSIF TG_OP = 'UPDATE' THEN
    OPEN v_changes FOR {entries} (
      SELECT n.id AS config_id, config_history_value(o.config_value, s.secret) AS old_value,
             config_history_value(n.config_value, s.secret) AS new_value,
             COALESCE(v_actor, NULLIF(n.updated_by, o.updated_by)) AS changed_by, n.updated_at AS created_at,
             n.category, n.config_key, n.environment,
             CASE WHEN o.is_active AND NOT n.is_active THEN 'deactivate'
                  WHEN NOT o.is_active AND n.is_active THEN 'reactivate'
                  ELSE 'update' END::varchar AS action,
             o.value_type AS old_value_type, n.value_type AS new_value_type,
             o.is_encrypted AS old_is_encrypted, n.is_encrypted AS new_is_encrypted, s.secret AS is_secret
      FROM old_rows o
      JOIN new_rows n ON n.id = o.id
      LEFT JOIN configuration_metadata m ON m.category = n.category AND m.config_key = n.config_key
      CROSS JOIN LATERAL (
        SELECT o.is_encrypted OR n.is_encrypted OR COALESCE(m.input_type = 'password', false) AS secret
      ) s
      WHERE (o.category, o.config_key, o.environment, o.config_value, o.value_type, o.is_encrypted, o.is_active)
            IS DISTINCT FROM
            (n.category, n.config_key, n.environment, n.config_value, n.value_type, n.is_encrypted, n.is_active)
      ORDER BY n.id) q) e;
  ELSE
    -- No foreign key from history to the deleted row: the trail outlives it.
    OPEN v_changes FOR {entries} (
      SELECT o.id AS config_id, config_history_value(o.config_value, s.secret) AS old_value, NULL::text AS new_value,
             v_actor AS changed_by, clock_timestamp() AS created_at,
             o.category, o.config_key, o.environment, 'delete'::varchar AS action,
             o.value_type AS old_value_type, NULL::varchar AS new_value_type,
             o.is_encrypted AS old_is_encrypted, NULL::boolean AS new_is_encrypted, s.secret AS is_secret
      FROM old_rows o
      LEFT JOIN configuration_metadata m ON m.category = o.category AND m.config_key = o.config_key
      CROSS JOIN LATERAL (SELECT o.is_encrypted OR COALESCE(m.input_type = 'password', false) AS secret) s
      ORDER BY o.id) q) e;
  END IF;
  LOOP
    FETCH v_changes INTO r;
    EXIT WHEN NOT FOUND;
    v_hash := encode(sha256(convert_to(COALESCE(v_prev, '') || r.content, 'UTF8')), 'hex');
    v_rows := v_rows || ROW(r.id, r.config_id, r.old_value, r.new_value, r.changed_by, v_reason, v_ip, v_agent,
                            r.created_at, r.category, r.config_key, r.environment, r.action, r.old_value_type,
                            r.new_value_type, r.old_is_encrypted, r.new_is_encrypted, r.is_secret,
                            v_prev, v_hash)::configuration_history;
    v_prev := v_hash;
    v_last := r.id;
  END LOOP;
  CLOSE v_changes;
  IF v_last IS NOT NULL THEN
    INSERT INTO configuration_history SELECT * FROM unnest(v_rows);
    UPDATE configuration_history_head SET last_id = v_last, last_hash = v_prev WHERE id = 1;
  END IF;
  RETURN NULL;
END
$$;
""".replace("{entries}", _ENTRIES),
    r"""
CREATE OR REPLACE FUNCTION current_user_id() RETURNS uuid
LANGUAGE sql STABLE AS $$
  -- The actor of the current transaction: the transaction-local audit context (configurations.audit).
  SELECT NULLIF(current_setting('app.actor', true), '')::uuid
$$;
""",
    r"""
CREATE OR REPLACE VIEW user_permissions AS
  -- Which environments each user may edit: superusers every one, other active staff those whose
  -- configurations.edit_<environment> permission they hold directly or through a group.
  WITH environment_permissions AS (
    SELECT p.id, substr(p.codename, 6) AS environment
    FROM auth_permission p JOIN django_content_type ct ON ct.id = p.content_type_id
    WHERE ct.app_label = 'configurations' AND p.codename LIKE 'edit\_%'
  )
  SELECT u.id AS user_id,
         ARRAY(
           SELECT ep.environment FROM environment_permissions ep
           WHERE u.is_superuser
              OR ep.id IN (SELECT up.permission_id FROM users_user_permissions up WHERE up.user_id = u.id)
              OR ep.id IN (SELECT gp.permission_id FROM auth_group_permissions gp
                           JOIN users_groups ug ON ug.group_id = gp.group_id WHERE ug.user_id = u.id)
           ORDER BY ep.environment
         )::text[] AS allowed_environments
  FROM users u
  WHERE u.is_active AND (u.is_superuser OR u.is_staff);
""",
    r"""
CREATE OR REPLACE FUNCTION config_archive_history(p_cutoff timestamptz, p_last_id bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  v_moved bigint;
BEGIN
  -- Moves rows, never edits them: the archive has the same columns in the same order, hashes included.
  IF p_cutoff > clock_timestamp() THEN
    RAISE EXCEPTION 'config_archive_history: the cutoff % is in the future', p_cutoff;
  END IF;
  INSERT INTO configuration_history_archive
    SELECT * FROM configuration_history WHERE created_at < p_cutoff AND id <= p_last_id;
  DELETE FROM configuration_history WHERE created_at < p_cutoff AND id <= p_last_id;
  GET DIAGNOSTICS v_moved = ROW_COUNT;
  RETURN v_moved;
END
$$;
""",
    "REVOKE ALL ON FUNCTION config_archive_history(timestamptz, bigint) FROM PUBLIC",
]

_ROW_ARGUMENTS = ", ".join("r." + column for column in CONTENT_ARGUMENTS.split(", "))
PG_CHAIN_EXISTING = rf"""
DO $$
DECLARE
  r record;
  v_prev text;
  v_hash text;
  v_last bigint;
BEGIN
  FOR r IN SELECT 'h' AS source, * FROM configuration_history
           UNION ALL SELECT 'a', * FROM configuration_history_archive ORDER BY id LOOP
    v_hash := config_chain_hash(v_prev, config_history_content({_ROW_ARGUMENTS}));
    IF r.source = 'h' THEN
      UPDATE configuration_history SET prev_hash = v_prev, row_hash = v_hash WHERE id = r.id;
    ELSE
      UPDATE configuration_history_archive SET prev_hash = v_prev, row_hash = v_hash WHERE id = r.id;
    END IF;
    v_prev := v_hash;
    v_last := r.id;
  END LOOP;
  UPDATE configuration_history_head SET last_id = v_last, last_hash = v_prev WHERE id = 1;
END
$$;
"""

PG_UNINSTALL = [
    "DROP FUNCTION IF EXISTS config_archive_history(timestamptz, bigint)",
    "DROP VIEW IF EXISTS user_permissions",
    "DROP FUNCTION IF EXISTS current_user_id()",
]
PG_UNINSTALL_AFTER = [
    "DROP FUNCTION IF EXISTS config_chain_hash(text, text)",
    "DROP FUNCTION IF EXISTS config_history_content(bigint, bigint, text, text, uuid, text, inet, text, timestamptz, "
    "text, text, text, text, text, text, boolean, boolean, boolean)",
    "DROP FUNCTION IF EXISTS config_history_flag(boolean)",
    "DROP FUNCTION IF EXISTS config_history_field(text)",
]

# SQLite: each history trigger of 0008, then the new row's link in the chain (frozen).
SQLITE_INSTALL = [
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
  INSERT INTO configuration_history (config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, new_is_encrypted, is_secret)
  SELECT NEW.id, NULL, config_history_value(NEW.config_value, (NEW.is_encrypted OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = NEW.category AND m.config_key = NEW.config_key AND m.input_type = 'password'))),
         COALESCE(NULLIF(current_setting('app.actor', 1), ''), NEW.updated_by), NULLIF(current_setting('app.reason', 1), ''), NULLIF(current_setting('app.ip_address', 1), ''), NULLIF(current_setting('app.user_agent', 1), ''),
         (SELECT c.updated_at FROM system_configurations c WHERE c.id = NEW.id),
         NEW.category, NEW.config_key, NEW.environment, 'create', NULL, NEW.value_type, NULL, NEW.is_encrypted,
         (NEW.is_encrypted OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = NEW.category AND m.config_key = NEW.config_key AND m.input_type = 'password'));
  UPDATE configuration_history
     SET prev_hash = COALESCE((SELECT last_hash FROM configuration_history_head WHERE id = 1), (SELECT t.row_hash FROM (SELECT id, row_hash FROM configuration_history WHERE id < last_insert_rowid() UNION ALL SELECT id, row_hash FROM configuration_history_archive) t ORDER BY t.id DESC LIMIT 1)),
         row_hash = config_chain_hash(COALESCE((SELECT last_hash FROM configuration_history_head WHERE id = 1), (SELECT t.row_hash FROM (SELECT id, row_hash FROM configuration_history WHERE id < last_insert_rowid() UNION ALL SELECT id, row_hash FROM configuration_history_archive) t ORDER BY t.id DESC LIMIT 1)), config_history_content(id, config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, new_is_encrypted, is_secret))
   WHERE id = last_insert_rowid();
  INSERT OR REPLACE INTO configuration_history_head (id, last_id, last_hash)
  VALUES (1, last_insert_rowid(), (SELECT row_hash FROM configuration_history WHERE id = last_insert_rowid()));
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
  INSERT INTO configuration_history (config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, new_is_encrypted, is_secret)
  SELECT NEW.id,
         config_history_value(OLD.config_value, (OLD.is_encrypted OR NEW.is_encrypted OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = NEW.category AND m.config_key = NEW.config_key AND m.input_type = 'password'))),
         config_history_value(NEW.config_value, (OLD.is_encrypted OR NEW.is_encrypted OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = NEW.category AND m.config_key = NEW.config_key AND m.input_type = 'password'))),
         COALESCE(NULLIF(current_setting('app.actor', 1), ''), CASE WHEN NEW.updated_by IS NOT OLD.updated_by THEN NEW.updated_by END),
         NULLIF(current_setting('app.reason', 1), ''), NULLIF(current_setting('app.ip_address', 1), ''), NULLIF(current_setting('app.user_agent', 1), ''), (SELECT c.updated_at FROM system_configurations c WHERE c.id = NEW.id),
         NEW.category, NEW.config_key, NEW.environment,
         CASE WHEN OLD.is_active AND NOT NEW.is_active THEN 'deactivate'
              WHEN NOT OLD.is_active AND NEW.is_active THEN 'reactivate'
              ELSE 'update' END,
         OLD.value_type, NEW.value_type, OLD.is_encrypted, NEW.is_encrypted, (OLD.is_encrypted OR NEW.is_encrypted OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = NEW.category AND m.config_key = NEW.config_key AND m.input_type = 'password'));
  UPDATE configuration_history
     SET prev_hash = COALESCE((SELECT last_hash FROM configuration_history_head WHERE id = 1), (SELECT t.row_hash FROM (SELECT id, row_hash FROM configuration_history WHERE id < last_insert_rowid() UNION ALL SELECT id, row_hash FROM configuration_history_archive) t ORDER BY t.id DESC LIMIT 1)),
         row_hash = config_chain_hash(COALESCE((SELECT last_hash FROM configuration_history_head WHERE id = 1), (SELECT t.row_hash FROM (SELECT id, row_hash FROM configuration_history WHERE id < last_insert_rowid() UNION ALL SELECT id, row_hash FROM configuration_history_archive) t ORDER BY t.id DESC LIMIT 1)), config_history_content(id, config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, new_is_encrypted, is_secret))
   WHERE id = last_insert_rowid();
  INSERT OR REPLACE INTO configuration_history_head (id, last_id, last_hash)
  VALUES (1, last_insert_rowid(), (SELECT row_hash FROM configuration_history WHERE id = last_insert_rowid()));
END
""",
    "DROP TRIGGER IF EXISTS system_configurations_history_delete",
    r"""
CREATE TRIGGER system_configurations_history_delete
AFTER DELETE ON system_configurations
BEGIN
  INSERT INTO configuration_history (config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, new_is_encrypted, is_secret)
  SELECT OLD.id, config_history_value(OLD.config_value, (OLD.is_encrypted OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = OLD.category AND m.config_key = OLD.config_key AND m.input_type = 'password'))),
         NULL, NULLIF(current_setting('app.actor', 1), ''), NULLIF(current_setting('app.reason', 1), ''), NULLIF(current_setting('app.ip_address', 1), ''), NULLIF(current_setting('app.user_agent', 1), ''), config_next_timestamp(NULL),
         OLD.category, OLD.config_key, OLD.environment, 'delete', OLD.value_type, NULL, OLD.is_encrypted, NULL,
         (OLD.is_encrypted OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = OLD.category AND m.config_key = OLD.config_key AND m.input_type = 'password'));
  UPDATE configuration_history
     SET prev_hash = COALESCE((SELECT last_hash FROM configuration_history_head WHERE id = 1), (SELECT t.row_hash FROM (SELECT id, row_hash FROM configuration_history WHERE id < last_insert_rowid() UNION ALL SELECT id, row_hash FROM configuration_history_archive) t ORDER BY t.id DESC LIMIT 1)),
         row_hash = config_chain_hash(COALESCE((SELECT last_hash FROM configuration_history_head WHERE id = 1), (SELECT t.row_hash FROM (SELECT id, row_hash FROM configuration_history WHERE id < last_insert_rowid() UNION ALL SELECT id, row_hash FROM configuration_history_archive) t ORDER BY t.id DESC LIMIT 1)), config_history_content(id, config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, new_is_encrypted, is_secret))
   WHERE id = last_insert_rowid();
  INSERT OR REPLACE INTO configuration_history_head (id, last_id, last_hash)
  VALUES (1, last_insert_rowid(), (SELECT row_hash FROM configuration_history WHERE id = last_insert_rowid()));
END
""",
]

PG_0008_LOG_FUNCTION = [
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
    INSERT INTO configuration_history (config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, new_is_encrypted, is_secret)
    SELECT n.id, NULL, config_history_value(n.config_value, s.secret),
           COALESCE(v_actor, n.updated_by), v_reason, v_ip, v_agent, n.updated_at,
           n.category, n.config_key, n.environment, 'create', NULL, n.value_type, NULL, n.is_encrypted, s.secret
    FROM new_rows n
    LEFT JOIN configuration_metadata m ON m.category = n.category AND m.config_key = n.config_key
    CROSS JOIN LATERAL (SELECT n.is_encrypted OR COALESCE(m.input_type = 'password', false) AS secret) s
    ORDER BY n.id;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO configuration_history (config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, new_is_encrypted, is_secret)
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
    INSERT INTO configuration_history (config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, new_is_encrypted, is_secret)
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

SQLITE_0008 = [
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
  INSERT INTO configuration_history (config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, new_is_encrypted, is_secret)
  SELECT NEW.id, NULL, config_history_value(NEW.config_value, (NEW.is_encrypted OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = NEW.category AND m.config_key = NEW.config_key AND m.input_type = 'password'))),
         COALESCE(NULLIF(current_setting('app.actor', 1), ''), NEW.updated_by), NULLIF(current_setting('app.reason', 1), ''), NULLIF(current_setting('app.ip_address', 1), ''), NULLIF(current_setting('app.user_agent', 1), ''),
         (SELECT c.updated_at FROM system_configurations c WHERE c.id = NEW.id),
         NEW.category, NEW.config_key, NEW.environment, 'create', NULL, NEW.value_type, NULL, NEW.is_encrypted,
         (NEW.is_encrypted OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = NEW.category AND m.config_key = NEW.config_key AND m.input_type = 'password'));
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
  INSERT INTO configuration_history (config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, new_is_encrypted, is_secret)
  SELECT NEW.id,
         config_history_value(OLD.config_value, (OLD.is_encrypted OR NEW.is_encrypted OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = NEW.category AND m.config_key = NEW.config_key AND m.input_type = 'password'))),
         config_history_value(NEW.config_value, (OLD.is_encrypted OR NEW.is_encrypted OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = NEW.category AND m.config_key = NEW.config_key AND m.input_type = 'password'))),
         COALESCE(NULLIF(current_setting('app.actor', 1), ''), CASE WHEN NEW.updated_by IS NOT OLD.updated_by THEN NEW.updated_by END),
         NULLIF(current_setting('app.reason', 1), ''), NULLIF(current_setting('app.ip_address', 1), ''), NULLIF(current_setting('app.user_agent', 1), ''), (SELECT c.updated_at FROM system_configurations c WHERE c.id = NEW.id),
         NEW.category, NEW.config_key, NEW.environment,
         CASE WHEN OLD.is_active AND NOT NEW.is_active THEN 'deactivate'
              WHEN NOT OLD.is_active AND NEW.is_active THEN 'reactivate'
              ELSE 'update' END,
         OLD.value_type, NEW.value_type, OLD.is_encrypted, NEW.is_encrypted, (OLD.is_encrypted OR NEW.is_encrypted OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = NEW.category AND m.config_key = NEW.config_key AND m.input_type = 'password'));
END
""",
    "DROP TRIGGER IF EXISTS system_configurations_history_delete",
    r"""
CREATE TRIGGER system_configurations_history_delete
AFTER DELETE ON system_configurations
BEGIN
  INSERT INTO configuration_history (config_id, old_value, new_value, changed_by, change_reason, ip_address, user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type, old_is_encrypted, new_is_encrypted, is_secret)
  SELECT OLD.id, config_history_value(OLD.config_value, (OLD.is_encrypted OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = OLD.category AND m.config_key = OLD.config_key AND m.input_type = 'password'))),
         NULL, NULLIF(current_setting('app.actor', 1), ''), NULLIF(current_setting('app.reason', 1), ''), NULLIF(current_setting('app.ip_address', 1), ''), NULLIF(current_setting('app.user_agent', 1), ''), config_next_timestamp(NULL),
         OLD.category, OLD.config_key, OLD.environment, 'delete', OLD.value_type, NULL, OLD.is_encrypted, NULL,
         (OLD.is_encrypted OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = OLD.category AND m.config_key = OLD.config_key AND m.input_type = 'password'));
END
""",
]


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    schema_editor.execute("INSERT INTO configuration_history_head (id, last_id, last_hash) VALUES (1, NULL, NULL)")
    if vendor == "postgresql":
        for statement in [*PG_INSTALL, PG_CHAIN_EXISTING]:
            schema_editor.execute(statement, params=None)
    elif vendor == "sqlite":
        _chain_existing_on_sqlite(schema_editor.connection)
        for statement in SQLITE_INSTALL:
            schema_editor.execute(statement, params=None)
    else:
        raise NotImplementedError(f"The configuration history triggers support PostgreSQL and SQLite, not {vendor}.")


def _chain_existing_on_sqlite(connection) -> None:
    """Chain the rows written before this migration, in id order, with the functions the backend registers."""
    with connection.cursor() as cursor:
        rows = []
        for table in ("configuration_history", "configuration_history_archive"):
            cursor.execute(f"SELECT {CONTENT_ARGUMENTS}, '{table}' FROM {table}")
            rows += cursor.fetchall()
        previous, last_id = None, None
        for row in sorted(rows, key=lambda row: row[0]):
            cursor.execute("SELECT config_chain_hash(%s, config_history_content(" + ", ".join(["%s"] * 18) + "))",
                           [previous, *row[:18]])  # fmt: skip
            row_hash = cursor.fetchone()[0]
            cursor.execute(
                f"UPDATE {row[18]} SET prev_hash = %s, row_hash = %s WHERE id = %s", [previous, row_hash, row[0]]
            )
            previous, last_id = row_hash, row[0]
        cursor.execute(
            "UPDATE configuration_history_head SET last_id = %s, last_hash = %s WHERE id = 1", [last_id, previous]
        )


def uninstall(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for statement in PG_UNINSTALL:
            schema_editor.execute(statement, params=None)
        for statement in PG_0008_LOG_FUNCTION:
            schema_editor.execute(statement, params=None)
        for statement in PG_UNINSTALL_AFTER:
            schema_editor.execute(statement, params=None)
    else:
        for statement in SQLITE_0008:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("configurations", "0008_history_secrecy"),
    ]

    operations = [
        migrations.AddField(
            model_name="configurationhistory",
            name="prev_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="configurationhistory",
            name="row_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="configurationhistoryarchive",
            name="prev_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="configurationhistoryarchive",
            name="row_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.CreateModel(
            name="HistoryChainHead",
            fields=[
                ("id", models.IntegerField(primary_key=True, serialize=False)),
                ("last_id", models.BigIntegerField(null=True)),
                ("last_hash", models.CharField(max_length=64, null=True)),
            ],
            options={
                "db_table": "configuration_history_head",
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("id", 1)), name="configuration_history_head_one_row")
                ],
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
