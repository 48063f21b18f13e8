"""The history's monthly partitions on PostgreSQL: created ahead, archived whole behind a checkpoint in the chain.

``configuration_history`` is partitioned by range of ``created_at``, one partition per month (UTC) named
``configuration_history_YYYY_MM``, and ``configuration_history_default`` for anything outside them (migration
0025). Each function is SECURITY DEFINER, owned by the owner role, so the application role can call them without
any right on the history's rows:

- ``config_history_partition(month)`` creates the month's partition if it is missing: with a CHECK constraint of
  its range (so that attaching it elsewhere later needs no scan), the parent's grants and row-level security, and
  the rows of that month the default partition caught moved into it. True if it created one.
- ``config_history_archive_partition(name, cutoff)`` archives a whole partition that ends before the cutoff: with
  the chain's head locked, it finds by index (never reading the partition's rows) its first and last id, its rows,
  and its runs: stretches of rows that follow each other in the chain, each with its first link and its last hash
  (``config_history_run``). It appends a ``checkpoint`` row with all of that to the chain, detaches the partition,
  renames it ``configuration_history_archived_YYYY_MM`` and records it in ``configuration_history_archives``. An
  empty partition is dropped without a checkpoint. Returns the checkpoint's history id (NULL for an empty one).
- ``config_history_drop_archive(checkpoint, path)`` drops an archived partition once it was exported to ``path``
  (granted to the owner only: dropping is the operator's retention decision).
"""

from __future__ import annotations

from .definitions import Function
from .history_postgresql import CHAIN_LOCK

# The partition's bounds as PostgreSQL prints them: FOR VALUES FROM ('...') TO ('...').
_BOUND = r"""substring(pg_get_expr(c.relpartbound, c.oid) FROM {n})::timestamptz"""

POSTGRESQL_FUNCTIONS = (
    Function(
        name="config_history_partition",
        arguments="p_month date",
        returns="boolean",
        language="plpgsql",
        security_definer=True,
        settings=("TimeZone=UTC",),
        body=r"""
DECLARE
  v_from timestamptz := date_trunc('month', p_month::timestamp) AT TIME ZONE 'UTC';
  v_to timestamptz := (date_trunc('month', p_month::timestamp) + interval '1 month') AT TIME ZONE 'UTC';
  v_name text := 'configuration_history_' || to_char(p_month, 'YYYY_MM');
  v_range text;
  r record;
BEGIN
  IF to_regclass('public.' || v_name) IS NOT NULL THEN
    RETURN false;
  END IF;
  v_range := format('created_at >= %L AND created_at < %L', v_from, v_to);
  IF EXISTS (SELECT 1 FROM configuration_history_default WHERE created_at >= v_from AND created_at < v_to) THEN
    -- Rows of this month were caught by the default partition: they move, unchanged, into the new one.
    EXECUTE format('CREATE TABLE public.%I (LIKE configuration_history INCLUDING DEFAULTS)', v_name);
    EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I CHECK (%s)', v_name, v_name || '_range', v_range);
    EXECUTE format('WITH moved AS (DELETE FROM configuration_history_default WHERE %s RETURNING *) '
                   'INSERT INTO public.%I SELECT * FROM moved', v_range, v_name);
    EXECUTE format('ALTER TABLE configuration_history ATTACH PARTITION public.%I FOR VALUES FROM (%L) TO (%L)',
                   v_name, v_from, v_to);
  ELSE
    EXECUTE format('CREATE TABLE public.%I PARTITION OF configuration_history FOR VALUES FROM (%L) TO (%L)',
                   v_name, v_from, v_to);
    EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I CHECK (%s)', v_name, v_name || '_range', v_range);
  END IF;
  -- The parent's grants, row-level security and policies, so the partition gives nobody more than the parent.
  EXECUTE format('REVOKE ALL ON public.%I FROM PUBLIC', v_name);
  FOR r IN SELECT a.grantee, a.privilege_type FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
           WHERE c.oid = 'configuration_history'::regclass AND a.grantee <> c.relowner LOOP
    EXECUTE format('GRANT %s ON public.%I TO %s', r.privilege_type, v_name,
                   CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r.grantee)) END);
  END LOOP;
  IF (SELECT relrowsecurity FROM pg_class WHERE oid = 'configuration_history'::regclass) THEN
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', v_name);
  END IF;
  FOR r IN SELECT * FROM pg_policies WHERE schemaname = 'public' AND tablename = 'configuration_history' LOOP
    EXECUTE format('CREATE POLICY %I ON public.%I AS %s FOR %s TO %s', r.policyname, v_name, r.permissive, r.cmd,
                   (SELECT string_agg(CASE WHEN g = 'public' THEN 'PUBLIC' ELSE quote_ident(g) END, ', ')
                    FROM unnest(r.roles) g))
      || COALESCE(' USING (' || r.qual || ')', '') || COALESCE(' WITH CHECK (' || r.with_check || ')', '');
  END LOOP;
  RETURN true;
END
""",
    ),
    Function(
        name="config_history_archive_partition",
        arguments="p_partition text, p_cutoff timestamp with time zone",
        returns="bigint",
        language="plpgsql",
        security_definer=True,
        settings=("TimeZone=UTC",),
        body=r"""
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
  SELECT {from_bound}, {to_bound} INTO v_from, v_to
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
  PERFORM {chain_lock};
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
""".replace("{chain_lock}", CHAIN_LOCK)
        .replace("{from_bound}", _BOUND.format(n="'FROM \\(''([^'']+)''\\)'"))
        .replace("{to_bound}", _BOUND.format(n="'TO \\(''([^'']+)''\\)'")),
    ),
    Function(
        name="config_history_run",
        arguments="p_partition text, p_first bigint, p_last bigint",
        returns="jsonb",
        language="plpgsql",
        body=r"""
DECLARE
  v_run jsonb;
BEGIN
  -- One stretch of a partition's rows: [first id, its prev_hash, last id, its row_hash, rows] (index only).
  EXECUTE format($q$SELECT jsonb_build_array($1, (SELECT prev_hash FROM public.%1$I WHERE id = $1), $2,
                        (SELECT row_hash FROM public.%1$I WHERE id = $2),
                        (SELECT count(*) FROM public.%1$I WHERE id BETWEEN $1 AND $2))$q$, p_partition)
    INTO v_run USING p_first, p_last;
  RETURN jsonb_build_array(v_run);
END
""",
    ),
    Function(
        name="config_history_drop_archive",
        arguments="p_checkpoint bigint, p_path text",
        returns="void",
        language="plpgsql",
        security_definer=True,
        body=r"""
DECLARE
  v_table text;
BEGIN
  SELECT table_name INTO v_table FROM configuration_history_archives
    WHERE checkpoint_id = p_checkpoint AND exported_to IS NULL FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'config_history_drop_archive: no archive in the database has checkpoint #%', p_checkpoint;
  END IF;
  EXECUTE format('DROP TABLE public.%I', v_table);
  UPDATE configuration_history_archives SET exported_to = p_path WHERE checkpoint_id = p_checkpoint;
END
""",
    ),
)
