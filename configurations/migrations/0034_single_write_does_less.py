"""A single write does less on the server (issue 24; data/triggers/hot_path.py, history_postgresql.py, rules.py).

- ``config_write_or_read`` checks and writes one row of one key (the common write: ``set_value``, an API PUT of one
  key) by its id, with no set-returning function of the order to plan and run, and its key's metadata by one index
  lookup; several rows still take the general path. The caller's condition (the API's If-Match) reads the category's
  version only when there is one, through ``config_category_version``, instead of setting up a scan of every history
  partition on every write. Its UPDATE gives ``updated_at`` and ``updated_by`` the values ``config_touch_row`` would
  give them. Same signature and result.
- ``config_touch_row`` assigns a column only where the writer did not give it the value it sets (an assignment makes
  the row an expanded record, formed again afterwards: most of the trigger's cost); a changed row's ``updated_at``
  is the statement's time (the columns' default), still strictly later than before.
- ``log_configuration_change`` draws ids from the sequence by name (resolved once, when its statement is planned)
  instead of looking the sequence up on every call, and refuses an UPDATE's secret in the clear (or a value marked
  encrypted that is no envelope) in its own query, which joins each changed row with its key's metadata: the
  trigger ``system_configurations_secrets_update`` goes, and with it a scan of every password key's metadata on
  every UPDATE. ``config_refuse_plaintext_secrets`` checks an INSERT's rows only, with their metadata joined too.

Backwards, migration 0033's write function, 0028's history and refusal functions, 0002's ``config_touch_row`` and the
UPDATE's refusal trigger come back.
"""

from django.db import migrations

# Frozen copies of the definitions installed here (data/triggers/) and of those they replace.
WRITE_OR_READ = r"""CREATE OR REPLACE FUNCTION config_write_or_read(p_write jsonb) RETURNS TABLE(refused text, written bigint, version text, head bigint, category_version bigint, item system_configurations, item_seen text, meta configuration_metadata, meta_seen text)
LANGUAGE plpgsql SET plan_cache_mode = 'force_generic_plan' AS $fn$
DECLARE
  v_version jsonb := p_write->'version';
  -- One row of one key (the common write): checked and written by its id, with no set-returning function to plan.
  v_one jsonb := CASE WHEN jsonb_array_length(p_write->'rows') = 1 AND jsonb_array_length(p_write->'metadata') = 1
                      THEN p_write->'rows'->0 END;
  v_ids bigint[];
  v_categories varchar[];
  v_keys varchar[];
  v_current boolean;
  v_written bigint;
BEGIN
  -- The audit context the triggers record, then the categories' locks, in a fixed order; each statement below
  -- reads what was committed before it, after the locks are held.
  PERFORM set_config(s.key, s.value, true) FROM jsonb_each_text(p_write->'settings') AS s;
  PERFORM pg_advisory_xact_lock(k) FROM (SELECT k::bigint FROM jsonb_array_elements_text(p_write->'locks') AS k) l
   ORDER BY k;
  -- A review policy protects an environment, or the caller's condition (the category's version, looked up only
  -- when there is one) does not hold: nothing is written, and the locked path decides.
  IF EXISTS (SELECT 1 FROM configuration_review_policies p
              WHERE p.environment IN (SELECT jsonb_array_elements_text(p_write->'environments'))
                AND p.required_approvals > 0)
     OR (jsonb_typeof(v_version) = 'object'
         AND config_category_version(v_version->>'environment', v_version->>'category')
             NOT IN (SELECT v::bigint FROM jsonb_array_elements_text(v_version->'versions') AS v))
  THEN
    RETURN QUERY SELECT 'refused'::text, 0::bigint, NULL::text, NULL::bigint, NULL::bigint,
                        NULL::system_configurations, NULL::text, NULL::configuration_metadata, NULL::text;
    RETURN;
  END IF;
  -- The keys' metadata still the one read, and each row still as read (_STILL_AS_READ in hot_path.py).
  IF v_one IS NOT NULL THEN
    SELECT (c.xmin::text = (v_one->>'seen') OR ((v_one->>'loose')::boolean AND c.is_active AND NOT c.is_encrypted AND c.value_type = (v_one->>'value_type') AND c.config_value IS DISTINCT FROM (v_one->>'config_value')))
           AND (SELECT COALESCE(jsonb_agg(m.id::text || ':' || m.xmin::text), '[]')
                  FROM configuration_metadata m
                 WHERE m.category = p_write->'metadata'->0->>'category'
                   AND m.config_key = p_write->'metadata'->0->>'config_key') = p_write->'metadata_seen'
      INTO v_current
      FROM system_configurations c WHERE c.id = (v_one->>'id')::bigint;
    IF v_current THEN
      UPDATE system_configurations AS c
         SET config_value = v_one->>'config_value', value_type = v_one->>'value_type',
             is_encrypted = (v_one->>'is_encrypted')::boolean, is_active = (v_one->>'is_active')::boolean, updated_at = GREATEST(statement_timestamp(), c.updated_at + interval '1 microsecond'), updated_by = COALESCE(config_audit_setting('actor')::uuid, c.updated_by)
       WHERE c.id = (v_one->>'id')::bigint AND (c.xmin::text = (v_one->>'seen') OR ((v_one->>'loose')::boolean AND c.is_active AND NOT c.is_encrypted AND c.value_type = (v_one->>'value_type') AND c.config_value IS DISTINCT FROM (v_one->>'config_value')));
      GET DIAGNOSTICS v_written = ROW_COUNT;
      v_ids := ARRAY[(v_one->>'id')::bigint];
    END IF;
  ELSE
    -- Arrays, whose length the planner guesses small: the generic plans probe the indexes (a set-returning function
    -- of the JSON is guessed at 100 rows, and would scan the tables).
    v_ids := ARRAY(SELECT (r->>'id')::bigint FROM jsonb_array_elements(p_write->'rows') AS r);
    v_categories := ARRAY(SELECT m->>'category' FROM jsonb_array_elements(p_write->'metadata') AS m);
    v_keys := ARRAY(SELECT m->>'config_key' FROM jsonb_array_elements(p_write->'metadata') AS m);
    v_current := (SELECT COALESCE(array_agg(m.id::text || ':' || m.xmin::text ORDER BY m.id), '{}')
                    FROM configuration_metadata m JOIN unnest(v_categories, v_keys) AS w(category, config_key)
                   USING (category, config_key)) = ARRAY(SELECT jsonb_array_elements_text(p_write->'metadata_seen'))
      AND (SELECT count(*) FROM system_configurations c
             JOIN jsonb_to_recordset(p_write->'rows')
                  AS v(id bigint, config_value text, value_type varchar, seen text, loose boolean) ON c.id = v.id
            WHERE c.id = ANY(v_ids) AND (c.xmin::text = v.seen OR (v.loose AND c.is_active AND NOT c.is_encrypted AND c.value_type = v.value_type AND c.config_value IS DISTINCT FROM v.config_value))) = cardinality(v_ids);
    IF v_current THEN
      UPDATE system_configurations AS c
         SET config_value = v.config_value, value_type = v.value_type, is_encrypted = v.is_encrypted,
             is_active = v.is_active, updated_at = GREATEST(statement_timestamp(), c.updated_at + interval '1 microsecond'), updated_by = COALESCE(config_audit_setting('actor')::uuid, c.updated_by)
        FROM jsonb_to_recordset(p_write->'rows')
             AS v(id bigint, config_value text, value_type varchar, is_encrypted boolean, is_active boolean, seen text,
                  loose boolean)
       WHERE c.id = ANY(v_ids) AND c.id = v.id AND (c.xmin::text = v.seen OR (v.loose AND c.is_active AND NOT c.is_encrypted AND c.value_type = v.value_type AND c.config_value IS DISTINCT FROM v.config_value));
      GET DIAGNOSTICS v_written = ROW_COUNT;
    END IF;
  END IF;
  IF v_current THEN
    IF v_written <> cardinality(v_ids) THEN
      -- A writer that takes no category lock changed a row between the check and the UPDATE: undo it all.
      RAISE EXCEPTION USING ERRCODE = 'CF001',
        MESSAGE = format('%s of %s rows written: a row changed as it was written; nothing was written',
                         v_written, cardinality(v_ids));
    END IF;
    -- The rows' new version (the transaction's id, their xmin), the history's head after them and, asked for, the
    -- category's version: the head, whose row this transaction's trigger wrote last, else the category's newest id.
    RETURN QUERY SELECT NULL::text, v_written, pg_current_xact_id()::xid::text, h.last_id,
                        CASE WHEN jsonb_typeof(p_write->'answer') = 'object' THEN
                          COALESCE(CASE WHEN h.xmin = pg_current_xact_id()::xid THEN h.last_id END,
                                   config_category_version(p_write->'answer'->>'environment',
                                                           p_write->'answer'->>'category'))
                        END,
                        NULL::system_configurations, NULL::text, NULL::configuration_metadata, NULL::text
                   FROM (SELECT NULL) AS one
                   LEFT JOIN configuration_history_head h ON h.id = 1;
    RETURN;
  END IF;
  -- Something read changed since: nothing is written; what is there now, read under the locks after the history's
  -- head (as config_read_for_write answers it), so that the caller plans again without another round trip.
  RETURN QUERY
    SELECT 'changed'::text, 0::bigint, NULL::text,
           COALESCE((SELECT h.last_id FROM configuration_history_head h WHERE h.id = 1), 0), NULL::bigint, f.*
      FROM config_read_for_write(ARRAY(SELECT w->>0 FROM jsonb_array_elements(p_write->'wanted') AS w),
                                 ARRAY(SELECT w->>1 FROM jsonb_array_elements(p_write->'wanted') AS w),
                                 ARRAY(SELECT w->>2 FROM jsonb_array_elements(p_write->'wanted') AS w)) AS f;
END
$fn$"""

HISTORY = r"""CREATE OR REPLACE FUNCTION log_configuration_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET jit = 'off' AS $fn$
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
    OPEN v_changes FOR SELECT e.*, config_history_content(e.id, e.config_id, e.old_value, e.new_value, e.changed_by, v_reason, v_ip, v_agent, e.created_at, e.category, e.config_key, e.environment, e.action, e.old_value_type, e.new_value_type, e.old_is_encrypted, e.new_is_encrypted, e.is_secret) AS content FROM (SELECT nextval('configuration_history_id_seq') AS id, q.* FROM (
      SELECT n.id AS config_id, NULL::text AS old_value, config_history_value(n.config_value, s.secret) AS new_value,
             COALESCE(v_actor, n.updated_by) AS changed_by, n.updated_at AS created_at,
             n.category, n.config_key, n.environment, 'create'::varchar AS action,
             NULL::varchar AS old_value_type, n.value_type AS new_value_type,
             NULL::boolean AS old_is_encrypted, n.is_encrypted AS new_is_encrypted, s.secret AS is_secret,
             false AS refused
      FROM new_rows n
      LEFT JOIN configuration_metadata m ON m.category = n.category AND m.config_key = n.config_key
      CROSS JOIN LATERAL (SELECT n.is_encrypted OR COALESCE(m.input_type = 'password', false) AS secret) s
      ORDER BY n.id) q) e;
  ELSIF TG_OP = 'UPDATE' THEN
    OPEN v_changes FOR SELECT e.*, config_history_content(e.id, e.config_id, e.old_value, e.new_value, e.changed_by, v_reason, v_ip, v_agent, e.created_at, e.category, e.config_key, e.environment, e.action, e.old_value_type, e.new_value_type, e.old_is_encrypted, e.new_is_encrypted, e.is_secret) AS content FROM (SELECT nextval('configuration_history_id_seq') AS id, q.* FROM (
      SELECT n.id AS config_id, config_history_value(o.config_value, s.secret) AS old_value,
             config_history_value(n.config_value, s.secret) AS new_value,
             COALESCE(v_actor, NULLIF(n.updated_by, o.updated_by)) AS changed_by, n.updated_at AS created_at,
             n.category, n.config_key, n.environment,
             CASE WHEN o.is_active AND NOT n.is_active THEN 'deactivate'
                  WHEN NOT o.is_active AND n.is_active THEN 'reactivate'
                  ELSE 'update' END::varchar AS action,
             o.value_type AS old_value_type, n.value_type AS new_value_type,
             o.is_encrypted AS old_is_encrypted, n.is_encrypted AS new_is_encrypted, s.secret AS is_secret,
             (n.config_value IS NOT NULL AND ((n.is_encrypted AND substr(n.config_value, 1, 10) <> 'encrypted:') OR (NOT n.is_encrypted AND n.config_value <> '' AND substr(n.config_value, 1, 10) <> 'encrypted:' AND (lower(n.config_key) LIKE ANY (ARRAY(SELECT '%' || replace(replace(replace(p.pattern, '\', '\\'), '%', '\%'), '_', '\_') || '%' FROM configuration_secret_patterns p)) OR COALESCE(m.input_type = 'password', false))))) AND (o.config_value, o.is_encrypted, o.category, o.config_key) IS DISTINCT FROM (n.config_value, n.is_encrypted, n.category, n.config_key) AS refused
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
    OPEN v_changes FOR SELECT e.*, config_history_content(e.id, e.config_id, e.old_value, e.new_value, e.changed_by, v_reason, v_ip, v_agent, e.created_at, e.category, e.config_key, e.environment, e.action, e.old_value_type, e.new_value_type, e.old_is_encrypted, e.new_is_encrypted, e.is_secret) AS content FROM (SELECT nextval('configuration_history_id_seq') AS id, q.* FROM (
      SELECT o.id AS config_id, config_history_value(o.config_value, s.secret) AS old_value, NULL::text AS new_value,
             v_actor AS changed_by, clock_timestamp() AS created_at,
             o.category, o.config_key, o.environment, 'delete'::varchar AS action,
             o.value_type AS old_value_type, NULL::varchar AS new_value_type,
             o.is_encrypted AS old_is_encrypted, NULL::boolean AS new_is_encrypted, s.secret AS is_secret,
             false AS refused
      FROM old_rows o
      LEFT JOIN configuration_metadata m ON m.category = o.category AND m.config_key = o.config_key
      CROSS JOIN LATERAL (SELECT o.is_encrypted OR COALESCE(m.input_type = 'password', false) AS secret) s
      ORDER BY o.id) q) e;
  END IF;
  LOOP
    FETCH v_changes INTO r;
    EXIT WHEN NOT FOUND;
    IF r.refused THEN
      -- An UPDATE that leaves a secret in the clear, or marks a value encrypted that is no envelope (rules.py; a
      -- change of neither its value, its flag nor its name, such as a legacy row's deactivation, is not refused).
      RAISE EXCEPTION USING ERRCODE = 'check_violation',
      MESSAGE = format('%s.%s [%s] %s', r.category, r.config_key, r.environment,
                       CASE WHEN r.new_is_encrypted THEN 'is marked encrypted, but its value is not an encrypted envelope'
                            ELSE 'is a secret (its name matches CONFIG_SECRET_KEY_PATTERNS or its metadata is a password), so its value must be stored encrypted: write it through the application, which encrypts it' END);
    END IF;
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
    -- The transactional outbox: one event per history row, committed or rolled back with it (webhooks), while
    -- an endpoint exists to receive it.
    IF EXISTS (SELECT 1 FROM configuration_webhook_endpoints) THEN
      INSERT INTO configuration_events (event_type, history_id, category, config_key, environment, created_at)
        SELECT 'configuration.' || CASE h.action WHEN 'create' THEN 'created' WHEN 'update' THEN 'updated' WHEN 'deactivate' THEN 'deactivated' WHEN 'reactivate' THEN 'reactivated' ELSE 'deleted' END, h.id, h.category, h.config_key, h.environment, h.created_at FROM unnest(v_rows) h;
    END IF;
  END IF;
  RETURN NULL;
END
$fn$"""

TOUCH = r"""CREATE OR REPLACE FUNCTION config_touch_row() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  v_actor uuid := config_audit_setting('actor')::uuid;
BEGIN
  -- Each column is assigned only where the writer did not already give it its value: an assignment makes the row an
  -- expanded record to be formed again, the most of this trigger's cost (the write function gives both).
  IF TG_OP = 'UPDATE' THEN
    IF (NEW.category, NEW.config_key, NEW.environment, NEW.config_value,
        NEW.value_type, NEW.is_encrypted, NEW.is_active)
       IS NOT DISTINCT FROM
       (OLD.category, OLD.config_key, OLD.environment, OLD.config_value,
        OLD.value_type, OLD.is_encrypted, OLD.is_active)
    THEN
      -- Nothing changed: the row keeps its timestamp and no history is written.
      IF NEW.updated_at IS DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := OLD.updated_at;
      END IF;
      RETURN NEW;
    END IF;
    -- The statement's time (the columns' default too), strictly later than before, even if the clock stands still or
    -- steps back.
    IF NEW.updated_at IS DISTINCT FROM GREATEST(statement_timestamp(), OLD.updated_at + interval '1 microsecond') THEN
      NEW.updated_at := GREATEST(statement_timestamp(), OLD.updated_at + interval '1 microsecond');
    END IF;
  END IF;
  IF v_actor IS NOT NULL AND NEW.updated_by IS DISTINCT FROM v_actor THEN
    NEW.updated_by := v_actor;
  END IF;
  RETURN NEW;
END
$fn$"""

REFUSE = r"""CREATE OR REPLACE FUNCTION config_refuse_plaintext_secrets() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $fn$
DECLARE r record;
BEGIN
  -- An INSERT's rows (an UPDATE's are checked by the history trigger's query).
  SELECT n.category, n.config_key, n.environment, n.is_encrypted INTO r
    FROM new_rows n
    LEFT JOIN configuration_metadata m ON m.category = n.category AND m.config_key = n.config_key
   WHERE (n.config_value IS NOT NULL AND ((n.is_encrypted AND substr(n.config_value, 1, 10) <> 'encrypted:') OR (NOT n.is_encrypted AND n.config_value <> '' AND substr(n.config_value, 1, 10) <> 'encrypted:' AND (lower(n.config_key) LIKE ANY (ARRAY(SELECT '%' || replace(replace(replace(p.pattern, '\', '\\'), '%', '\%'), '_', '\_') || '%' FROM configuration_secret_patterns p)) OR COALESCE(m.input_type = 'password', false)))))
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'check_violation',
      MESSAGE = format('%s.%s [%s] %s', r.category, r.config_key, r.environment,
                       CASE WHEN r.is_encrypted THEN 'is marked encrypted, but its value is not an encrypted envelope'
                            ELSE 'is a secret (its name matches CONFIG_SECRET_KEY_PATTERNS or its metadata is a password), so its value must be stored encrypted: write it through the application, which encrypts it' END);
  END IF;
  RETURN NULL;
END
$fn$"""

WRITE_OR_READ_0033 = r"""CREATE OR REPLACE FUNCTION config_write_or_read(p_write jsonb) RETURNS TABLE(refused text, written bigint, version text, head bigint, category_version bigint, item system_configurations, item_seen text, meta configuration_metadata, meta_seen text)
LANGUAGE plpgsql SET plan_cache_mode = 'force_generic_plan' AS $fn$
DECLARE
  v_version jsonb := p_write->'version';
  -- Arrays, whose length the planner guesses small: the generic plans probe the indexes (a set-returning function of
  -- the JSON is guessed at 100 rows, and would scan the tables).
  v_ids bigint[] := ARRAY(SELECT (r->>'id')::bigint FROM jsonb_array_elements(p_write->'rows') AS r);
  v_categories varchar[] := ARRAY(SELECT m->>'category' FROM jsonb_array_elements(p_write->'metadata') AS m);
  v_keys varchar[] := ARRAY(SELECT m->>'config_key' FROM jsonb_array_elements(p_write->'metadata') AS m);
  v_written bigint;
BEGIN
  -- The audit context the triggers record, then the categories' locks, in a fixed order; each statement below
  -- reads what was committed before it, after the locks are held.
  PERFORM set_config(s.key, s.value, true) FROM jsonb_each_text(p_write->'settings') AS s;
  PERFORM pg_advisory_xact_lock(k) FROM (SELECT k::bigint FROM jsonb_array_elements_text(p_write->'locks') AS k) l
   ORDER BY k;
  -- A review policy protects an environment, or the caller's condition (the category's version) does not hold:
  -- nothing is written, and the locked path decides.
  IF EXISTS (SELECT 1 FROM configuration_review_policies p
              WHERE p.environment IN (SELECT jsonb_array_elements_text(p_write->'environments'))
                AND p.required_approvals > 0)
     OR (jsonb_typeof(v_version) = 'object'
         AND COALESCE((SELECT max(h.id) FROM configuration_history h
                        WHERE h.environment = v_version->>'environment' AND h.category = v_version->>'category'), 0)
             NOT IN (SELECT v::bigint FROM jsonb_array_elements_text(v_version->'versions') AS v))
  THEN
    RETURN QUERY SELECT 'refused'::text, 0::bigint, NULL::text, NULL::bigint, NULL::bigint,
                        NULL::system_configurations, NULL::text, NULL::configuration_metadata, NULL::text;
    RETURN;
  END IF;
  -- The keys' metadata still the one read, and each row still the version read (any UPDATE of a row gives it
  -- another xmin) or, for a row marked loose (a plaintext value kept active and of its type), still of that type,
  -- active, in the clear and of another value than the one written: the plan made on what was read is then the very
  -- plan a fresh read would give, and the value written over whatever another writer left (as the locked path would).
  IF (SELECT COALESCE(array_agg(m.id::text || ':' || m.xmin::text ORDER BY m.id), '{}')
        FROM configuration_metadata m JOIN unnest(v_categories, v_keys) AS w(category, config_key)
       USING (category, config_key)) = ARRAY(SELECT jsonb_array_elements_text(p_write->'metadata_seen'))
     AND (SELECT count(*) FROM system_configurations c
            JOIN jsonb_to_recordset(p_write->'rows')
                 AS v(id bigint, config_value text, value_type varchar, seen text, loose boolean) ON c.id = v.id
           WHERE c.id = ANY(v_ids)
             AND (c.xmin::text = v.seen
                  OR (v.loose AND c.is_active AND NOT c.is_encrypted AND c.value_type = v.value_type
                      AND c.config_value IS DISTINCT FROM v.config_value))) = cardinality(v_ids)
  THEN
    UPDATE system_configurations AS c
       SET config_value = v.config_value, value_type = v.value_type, is_encrypted = v.is_encrypted,
           is_active = v.is_active
      FROM jsonb_to_recordset(p_write->'rows')
           AS v(id bigint, config_value text, value_type varchar, is_encrypted boolean, is_active boolean, seen text,
                loose boolean)
     WHERE c.id = ANY(v_ids) AND c.id = v.id
       AND (c.xmin::text = v.seen
            OR (v.loose AND c.is_active AND NOT c.is_encrypted AND c.value_type = v.value_type
                AND c.config_value IS DISTINCT FROM v.config_value));
    GET DIAGNOSTICS v_written = ROW_COUNT;
    IF v_written <> cardinality(v_ids) THEN
      -- A writer that takes no category lock changed a row between the check and the UPDATE: undo it all.
      RAISE EXCEPTION USING ERRCODE = 'CF001',
        MESSAGE = format('%s of %s rows written: a row changed as it was written; nothing was written',
                         v_written, cardinality(v_ids));
    END IF;
    -- The rows' new version (the transaction's id, their xmin), the history's head after them and, asked for, the
    -- category's version: the head, whose row this transaction's trigger wrote last, else the category's newest id.
    RETURN QUERY SELECT NULL::text, v_written, pg_current_xact_id()::xid::text, h.last_id,
                        CASE WHEN jsonb_typeof(p_write->'answer') = 'object' THEN
                          COALESCE(CASE WHEN h.xmin = pg_current_xact_id()::xid THEN h.last_id END,
                                   config_category_version(p_write->'answer'->>'environment',
                                                           p_write->'answer'->>'category'))
                        END,
                        NULL::system_configurations, NULL::text, NULL::configuration_metadata, NULL::text
                   FROM (SELECT NULL) AS one
                   LEFT JOIN configuration_history_head h ON h.id = 1;
    RETURN;
  END IF;
  -- Something read changed since: nothing is written; what is there now, read under the locks after the history's
  -- head (as config_read_for_write answers it), so that the caller plans again without another round trip.
  RETURN QUERY
    SELECT 'changed'::text, 0::bigint, NULL::text,
           COALESCE((SELECT h.last_id FROM configuration_history_head h WHERE h.id = 1), 0), NULL::bigint, f.*
      FROM config_read_for_write(ARRAY(SELECT w->>0 FROM jsonb_array_elements(p_write->'wanted') AS w),
                                 ARRAY(SELECT w->>1 FROM jsonb_array_elements(p_write->'wanted') AS w),
                                 ARRAY(SELECT w->>2 FROM jsonb_array_elements(p_write->'wanted') AS w)) AS f;
END
$fn$"""

HISTORY_0028 = r"""CREATE OR REPLACE FUNCTION log_configuration_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET jit = 'off' AS $fn$
DECLARE
  v_actor uuid := config_audit_setting('actor')::uuid;
  v_reason text := config_audit_setting('reason');
  v_ip inet := config_audit_setting('ip_address')::inet;
  v_agent text := config_audit_setting('user_agent');
  -- Looked up once per statement, not per row (a catalog lookup: 25 ms for 10,000 rows).
  v_seq regclass := pg_get_serial_sequence('configuration_history', 'id')::regclass;
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
    OPEN v_changes FOR SELECT e.*, config_history_content(e.id, e.config_id, e.old_value, e.new_value, e.changed_by, v_reason, v_ip, v_agent, e.created_at, e.category, e.config_key, e.environment, e.action, e.old_value_type, e.new_value_type, e.old_is_encrypted, e.new_is_encrypted, e.is_secret) AS content FROM (SELECT nextval(v_seq) AS id, q.* FROM (
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
    OPEN v_changes FOR SELECT e.*, config_history_content(e.id, e.config_id, e.old_value, e.new_value, e.changed_by, v_reason, v_ip, v_agent, e.created_at, e.category, e.config_key, e.environment, e.action, e.old_value_type, e.new_value_type, e.old_is_encrypted, e.new_is_encrypted, e.is_secret) AS content FROM (SELECT nextval(v_seq) AS id, q.* FROM (
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
    OPEN v_changes FOR SELECT e.*, config_history_content(e.id, e.config_id, e.old_value, e.new_value, e.changed_by, v_reason, v_ip, v_agent, e.created_at, e.category, e.config_key, e.environment, e.action, e.old_value_type, e.new_value_type, e.old_is_encrypted, e.new_is_encrypted, e.is_secret) AS content FROM (SELECT nextval(v_seq) AS id, q.* FROM (
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
    -- The transactional outbox: one event per history row, committed or rolled back with it (webhooks), while
    -- an endpoint exists to receive it.
    IF EXISTS (SELECT 1 FROM configuration_webhook_endpoints) THEN
      INSERT INTO configuration_events (event_type, history_id, category, config_key, environment, created_at)
        SELECT 'configuration.' || CASE h.action WHEN 'create' THEN 'created' WHEN 'update' THEN 'updated' WHEN 'deactivate' THEN 'deactivated' WHEN 'reactivate' THEN 'reactivated' ELSE 'deleted' END, h.id, h.category, h.config_key, h.environment, h.created_at FROM unnest(v_rows) h;
    END IF;
  END IF;
  RETURN NULL;
END
$fn$"""

TOUCH_0002 = r"""CREATE OR REPLACE FUNCTION config_touch_row() RETURNS trigger
LANGUAGE plpgsql AS $fn$
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
$fn$"""

REFUSE_0028 = r"""CREATE OR REPLACE FUNCTION config_refuse_plaintext_secrets() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $fn$
DECLARE r record;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT n.category, n.config_key, n.environment, n.is_encrypted INTO r FROM new_rows n WHERE n.config_value IS NOT NULL AND ((n.is_encrypted AND substr(n.config_value, 1, 10) <> 'encrypted:') OR (NOT n.is_encrypted AND n.config_value <> '' AND substr(n.config_value, 1, 10) <> 'encrypted:' AND (lower(n.config_key) LIKE ANY (ARRAY(SELECT '%' || replace(replace(replace(p.pattern, '\', '\\'), '%', '\%'), '_', '\_') || '%' FROM configuration_secret_patterns p)) OR (n.category, n.config_key) IN (SELECT m.category, m.config_key FROM configuration_metadata m WHERE m.input_type = 'password')))) LIMIT 1;
  ELSE
    SELECT n.category, n.config_key, n.environment, n.is_encrypted INTO r FROM new_rows n WHERE n.config_value IS NOT NULL AND ((n.is_encrypted AND substr(n.config_value, 1, 10) <> 'encrypted:') OR (NOT n.is_encrypted AND n.config_value <> '' AND substr(n.config_value, 1, 10) <> 'encrypted:' AND (lower(n.config_key) LIKE ANY (ARRAY(SELECT '%' || replace(replace(replace(p.pattern, '\', '\\'), '%', '\%'), '_', '\_') || '%' FROM configuration_secret_patterns p)) OR (n.category, n.config_key) IN (SELECT m.category, m.config_key FROM configuration_metadata m WHERE m.input_type = 'password')))) AND NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.id = n.id AND o.config_value = n.config_value AND o.is_encrypted = n.is_encrypted AND o.category = n.category AND o.config_key = n.config_key) LIMIT 1;
  END IF;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'check_violation',
      MESSAGE = format('%s.%s [%s] %s', r.category, r.config_key, r.environment,
                       CASE WHEN r.is_encrypted THEN 'is marked encrypted, but its value is not an encrypted envelope' ELSE 'is a secret (its name matches CONFIG_SECRET_KEY_PATTERNS or its metadata is a password), so its value must be stored encrypted: write it through the application, which encrypts it' END);
  END IF;
  RETURN NULL;
END
$fn$"""

DROP_UPDATE_REFUSAL = "DROP TRIGGER IF EXISTS system_configurations_secrets_update ON system_configurations"
UPDATE_REFUSAL = (
    "CREATE TRIGGER system_configurations_secrets_update AFTER UPDATE ON system_configurations "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION config_refuse_plaintext_secrets()"
)


def _run(*statements: str):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("configurations", "0033_plaintext_written_over"),
    ]

    operations = [
        migrations.RunPython(
            _run(WRITE_OR_READ, HISTORY, TOUCH, REFUSE, DROP_UPDATE_REFUSAL),
            _run(WRITE_OR_READ_0033, HISTORY_0028, TOUCH_0002, REFUSE_0028, DROP_UPDATE_REFUSAL, UPDATE_REFUSAL),
        ),
    ]
