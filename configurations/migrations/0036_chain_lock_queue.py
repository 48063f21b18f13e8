"""Writers of the history's chain queue on an advisory lock before they lock its head row (issue 24;
data/triggers/history_postgresql.py, partitions.py).

``log_configuration_change`` and ``config_history_archive_partition`` take ``pg_advisory_xact_lock(1667655523, 1)``,
the chain's lock, before ``SELECT ... FOR UPDATE`` of ``configuration_history_head``. The row lock stays (a writer of
the head that took no chain's lock still waits on it; a REPEATABLE READ writer whose snapshot missed a commit is still
refused, by the row's lock and its UPDATE), but it is now taken uncontended. Eight writers waiting on the row itself
cost PostgreSQL about 0.15 ms more CPU a write than waiting in the lock manager's queue: each waiter took the row's
tuple lock, then the holder's transaction lock, then walked to the row's newest version.

Backwards, migration 0034's history function and 0025's archive function come back.
"""

from django.db import migrations

# Frozen copies of the definitions installed here (data/triggers/) and of the ones they replace.
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
  -- transaction ends. Writers queue on the chain's lock, then take the head row's lock uncontended: waiting on the row
  -- itself costs a waiter the row's lock, the holder's transaction lock and a walk to the row's newest version.
  PERFORM pg_advisory_xact_lock(1667655523, 1);
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

ARCHIVE_PARTITION = r"""CREATE OR REPLACE FUNCTION config_history_archive_partition(p_partition text, p_cutoff timestamp with time zone) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET TimeZone = 'UTC' AS $fn$
DECLARE
  v_actor uuid := config_audit_setting('actor')::uuid;
  v_reason text := COALESCE(config_audit_setting('reason'), 'archive of ' || p_partition);
  v_ip inet := config_audit_setting('ip_address')::inet;
  v_agent text := config_audit_setting('user_agent');
  v_from timestamptz;
  v_to timestamptz;
  v_prev text;
  v_first bigint;
  v_last bigint;
  v_start bigint;
  v_end bigint;
  v_foreign bigint;
  v_rows bigint := 0;
  v_runs jsonb := '[]';
  v_id bigint;
  v_at timestamptz := clock_timestamp();
  v_value text;
  v_hash text;
  v_table text := replace(p_partition, 'configuration_history_', 'configuration_history_archived_');
BEGIN
  IF p_cutoff > clock_timestamp() THEN
    RAISE EXCEPTION 'config_history_archive_partition: the cutoff % is in the future', p_cutoff;
  END IF;
  SELECT substring(pg_get_expr(c.relpartbound, c.oid) FROM 'FROM \(''([^'']+)''\)')::timestamptz, substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \(''([^'']+)''\)')::timestamptz INTO v_from, v_to
    FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid
    WHERE i.inhparent = 'configuration_history'::regclass AND c.relname = p_partition
      AND c.relnamespace = 'public'::regnamespace;
  IF NOT FOUND OR v_to IS NULL THEN
    RAISE EXCEPTION 'config_history_archive_partition: % is not a monthly partition of configuration_history',
      p_partition;
  END IF;
  IF v_to > p_cutoff THEN
    RAISE EXCEPTION 'config_history_archive_partition: % holds rows up to %, newer than the cutoff %',
      p_partition, v_to, p_cutoff;
  END IF;
  -- The chain's head first, as every writer takes it (its lock, then its row), then the partition: nobody waits on
  -- us holding what we need, and no id below the head can appear anywhere while we hold it.
  PERFORM pg_advisory_xact_lock(1667655523, 1);
  SELECT last_hash INTO v_prev FROM configuration_history_head WHERE id = 1 FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'config_history_archive_partition: the chain has no head row; write a change first';
  END IF;
  EXECUTE format('LOCK TABLE public.%I IN SHARE MODE', p_partition);
  EXECUTE format('SELECT min(id), max(id) FROM public.%I', p_partition) INTO v_first, v_last;
  IF v_first IS NULL THEN
    EXECUTE format('ALTER TABLE configuration_history DETACH PARTITION public.%I', p_partition);
    EXECUTE format('DROP TABLE public.%I', p_partition);
    RETURN NULL;
  END IF;
  -- Runs: stretches of the chain the partition holds. The chain is in id order, and a row written around midnight
  -- of a month's last day can sit in the next month's partition, so the partition's ids can be interleaved with a
  -- few of another's (live, or archived already). Found by index, never by reading the partition's rows: the ids
  -- of other partitions within its id range, then each stretch's ends and its row count (index only).
  v_start := v_first;
  FOR v_foreign IN
    SELECT id FROM configuration_history
      WHERE id > v_first AND id < v_last AND (created_at < v_from OR created_at >= v_to)
    UNION
    SELECT (r->>0)::bigint FROM configuration_history_archives a CROSS JOIN LATERAL jsonb_array_elements(a.runs) r
      WHERE (r->>0)::bigint > v_first AND (r->>0)::bigint < v_last
    ORDER BY 1
  LOOP
    EXECUTE format('SELECT max(id) FROM public.%I WHERE id >= $1 AND id < $2', p_partition)
      INTO v_end USING v_start, v_foreign;
    IF v_end IS NOT NULL THEN
      v_runs := v_runs || config_history_run(p_partition, v_start, v_end);
      v_rows := v_rows + (v_runs->-1->>4)::bigint;
    END IF;
    EXECUTE format('SELECT min(id) FROM public.%I WHERE id > $1', p_partition) INTO v_start USING v_foreign;
    EXIT WHEN v_start IS NULL;
  END LOOP;
  IF v_start IS NOT NULL THEN
    v_runs := v_runs || config_history_run(p_partition, v_start, v_last);
    v_rows := v_rows + (v_runs->-1->>4)::bigint;
  END IF;
  v_id := nextval(pg_get_serial_sequence('configuration_history', 'id'));
  v_value := jsonb_build_object('partition', p_partition, 'from', v_from, 'to', v_to, 'first_id', v_first,
                                'last_id', v_last, 'rows', v_rows, 'last_hash', v_runs->-1->>3, 'runs', v_runs)::text;
  v_hash := config_chain_hash(v_prev, config_history_content(v_id, 0, NULL, v_value, v_actor, v_reason, v_ip,
    v_agent, v_at, NULL, NULL, NULL, 'checkpoint', NULL, 'json', NULL, NULL, false));
  INSERT INTO configuration_history (id, config_id, old_value, new_value, changed_by, change_reason, ip_address,
      user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type,
      old_is_encrypted, new_is_encrypted, is_secret, prev_hash, row_hash)
    VALUES (v_id, 0, NULL, v_value, v_actor, v_reason, v_ip, v_agent, v_at, NULL, NULL, NULL, 'checkpoint', NULL,
            'json', NULL, NULL, false, v_prev, v_hash);
  UPDATE configuration_history_head SET last_id = v_id, last_hash = v_hash WHERE id = 1;
  EXECUTE format('ALTER TABLE configuration_history DETACH PARTITION public.%I', p_partition);
  IF to_regclass(format('public.%I', v_table)) IS NOT NULL THEN
    v_table := v_table || '_' || v_id;
  END IF;
  EXECUTE format('ALTER TABLE public.%I RENAME TO %I', p_partition, v_table);
  INSERT INTO configuration_history_archives (checkpoint_id, table_name, range_start, range_end, first_id, last_id,
      row_count, last_hash, runs, archived_at)
    VALUES (v_id, v_table, v_from, v_to, v_first, v_last, v_rows, v_runs->-1->>3, v_runs, v_at);
  RETURN v_id;
END
$fn$"""

HISTORY_0034 = r"""CREATE OR REPLACE FUNCTION log_configuration_change() RETURNS trigger
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

ARCHIVE_PARTITION_0025 = r"""CREATE OR REPLACE FUNCTION config_history_archive_partition(p_partition text, p_cutoff timestamp with time zone) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET TimeZone = 'UTC' AS $fn$
DECLARE
  v_actor uuid := config_audit_setting('actor')::uuid;
  v_reason text := COALESCE(config_audit_setting('reason'), 'archive of ' || p_partition);
  v_ip inet := config_audit_setting('ip_address')::inet;
  v_agent text := config_audit_setting('user_agent');
  v_from timestamptz;
  v_to timestamptz;
  v_prev text;
  v_first bigint;
  v_last bigint;
  v_start bigint;
  v_end bigint;
  v_foreign bigint;
  v_rows bigint := 0;
  v_runs jsonb := '[]';
  v_id bigint;
  v_at timestamptz := clock_timestamp();
  v_value text;
  v_hash text;
  v_table text := replace(p_partition, 'configuration_history_', 'configuration_history_archived_');
BEGIN
  IF p_cutoff > clock_timestamp() THEN
    RAISE EXCEPTION 'config_history_archive_partition: the cutoff % is in the future', p_cutoff;
  END IF;
  SELECT substring(pg_get_expr(c.relpartbound, c.oid) FROM 'FROM \(''([^'']+)''\)')::timestamptz, substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \(''([^'']+)''\)')::timestamptz INTO v_from, v_to
    FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid
    WHERE i.inhparent = 'configuration_history'::regclass AND c.relname = p_partition
      AND c.relnamespace = 'public'::regnamespace;
  IF NOT FOUND OR v_to IS NULL THEN
    RAISE EXCEPTION 'config_history_archive_partition: % is not a monthly partition of configuration_history',
      p_partition;
  END IF;
  IF v_to > p_cutoff THEN
    RAISE EXCEPTION 'config_history_archive_partition: % holds rows up to %, newer than the cutoff %',
      p_partition, v_to, p_cutoff;
  END IF;
  -- The chain's head first, as every writer takes it, then the partition: nobody waits on us holding what we need,
  -- and no id below the head can appear anywhere while we hold it.
  SELECT last_hash INTO v_prev FROM configuration_history_head WHERE id = 1 FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'config_history_archive_partition: the chain has no head row; write a change first';
  END IF;
  EXECUTE format('LOCK TABLE public.%I IN SHARE MODE', p_partition);
  EXECUTE format('SELECT min(id), max(id) FROM public.%I', p_partition) INTO v_first, v_last;
  IF v_first IS NULL THEN
    EXECUTE format('ALTER TABLE configuration_history DETACH PARTITION public.%I', p_partition);
    EXECUTE format('DROP TABLE public.%I', p_partition);
    RETURN NULL;
  END IF;
  -- Runs: stretches of the chain the partition holds. The chain is in id order, and a row written around midnight
  -- of a month's last day can sit in the next month's partition, so the partition's ids can be interleaved with a
  -- few of another's (live, or archived already). Found by index, never by reading the partition's rows: the ids
  -- of other partitions within its id range, then each stretch's ends and its row count (index only).
  v_start := v_first;
  FOR v_foreign IN
    SELECT id FROM configuration_history
      WHERE id > v_first AND id < v_last AND (created_at < v_from OR created_at >= v_to)
    UNION
    SELECT (r->>0)::bigint FROM configuration_history_archives a CROSS JOIN LATERAL jsonb_array_elements(a.runs) r
      WHERE (r->>0)::bigint > v_first AND (r->>0)::bigint < v_last
    ORDER BY 1
  LOOP
    EXECUTE format('SELECT max(id) FROM public.%I WHERE id >= $1 AND id < $2', p_partition)
      INTO v_end USING v_start, v_foreign;
    IF v_end IS NOT NULL THEN
      v_runs := v_runs || config_history_run(p_partition, v_start, v_end);
      v_rows := v_rows + (v_runs->-1->>4)::bigint;
    END IF;
    EXECUTE format('SELECT min(id) FROM public.%I WHERE id > $1', p_partition) INTO v_start USING v_foreign;
    EXIT WHEN v_start IS NULL;
  END LOOP;
  IF v_start IS NOT NULL THEN
    v_runs := v_runs || config_history_run(p_partition, v_start, v_last);
    v_rows := v_rows + (v_runs->-1->>4)::bigint;
  END IF;
  v_id := nextval(pg_get_serial_sequence('configuration_history', 'id'));
  v_value := jsonb_build_object('partition', p_partition, 'from', v_from, 'to', v_to, 'first_id', v_first,
                                'last_id', v_last, 'rows', v_rows, 'last_hash', v_runs->-1->>3, 'runs', v_runs)::text;
  v_hash := config_chain_hash(v_prev, config_history_content(v_id, 0, NULL, v_value, v_actor, v_reason, v_ip,
    v_agent, v_at, NULL, NULL, NULL, 'checkpoint', NULL, 'json', NULL, NULL, false));
  INSERT INTO configuration_history (id, config_id, old_value, new_value, changed_by, change_reason, ip_address,
      user_agent, created_at, category, config_key, environment, action, old_value_type, new_value_type,
      old_is_encrypted, new_is_encrypted, is_secret, prev_hash, row_hash)
    VALUES (v_id, 0, NULL, v_value, v_actor, v_reason, v_ip, v_agent, v_at, NULL, NULL, NULL, 'checkpoint', NULL,
            'json', NULL, NULL, false, v_prev, v_hash);
  UPDATE configuration_history_head SET last_id = v_id, last_hash = v_hash WHERE id = 1;
  EXECUTE format('ALTER TABLE configuration_history DETACH PARTITION public.%I', p_partition);
  IF to_regclass(format('public.%I', v_table)) IS NOT NULL THEN
    v_table := v_table || '_' || v_id;
  END IF;
  EXECUTE format('ALTER TABLE public.%I RENAME TO %I', p_partition, v_table);
  INSERT INTO configuration_history_archives (checkpoint_id, table_name, range_start, range_end, first_id, last_id,
      row_count, last_hash, runs, archived_at)
    VALUES (v_id, v_table, v_from, v_to, v_first, v_last, v_rows, v_runs->-1->>3, v_runs, v_at);
  RETURN v_id;
END
$fn$"""


def _run(*statements: str):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("configurations", "0035_tokens_channel"),
    ]

    operations = [
        migrations.RunPython(_run(HISTORY, ARCHIVE_PARTITION), _run(HISTORY_0034, ARCHIVE_PARTITION_0025)),
    ]
