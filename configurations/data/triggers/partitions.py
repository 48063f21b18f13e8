"""The history's monthly partitions on PostgreSQL: created ahead, archived whole behind a checkpoint in the chain.

``configuration_history`` is partitioned by range of ``created_at``, one partition per month (UTC) named
``configuration_history_YYYY_MM``, and ``configuration_history_default`` for anything outside them (migration
0025). Each function is SECURITY DEFINER, owned by the owner role, so the application role can call them without
any right on the history's rows:

- ``config_history_partition(month)`` creates the month's partition if it is missing: with a CHECK constraint of
  its range (so that attaching it elsewhere later needs no scan), the parent's grants and row-level security, and
  the rows of that month the default partition caught moved into it. True if it created one.
- ``config_history_archive_partition(name, cutoff)`` archives a whole partition that ends before the cutoff: with
  the chain's head locked, it reads the partition once (first and last id, rows, the SHA-256 of its row hashes in
  id order, and its runs: stretches of rows that follow each other in the chain), appends a ``checkpoint`` row
  with all of that to the chain, detaches the partition and renames it ``configuration_history_archived_YYYY_MM``,
  and records it in ``configuration_history_archives``. An empty partition is dropped without a checkpoint. Returns
  the checkpoint's history id (NULL for an empty partition).
- ``config_history_drop_archive(checkpoint, path)`` drops an archived partition once it was exported to ``path``
  (granted to the owner only: dropping is the operator's retention decision).
"""

from __future__ import annotations

from .definitions import Function

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
  v_rows bigint;
  v_digest text;
  v_last_hash text;
  v_runs jsonb;
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
  -- The chain's head first, as every writer takes it, then the partition: nobody waits on us holding what we need.
  SELECT last_hash INTO v_prev FROM configuration_history_head WHERE id = 1 FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'config_history_archive_partition: the chain has no head row; write a change first';
  END IF;
  EXECUTE format('LOCK TABLE public.%I IN SHARE MODE', p_partition);
  EXECUTE format($q$
    SELECT count(*), min(id), max(id), (array_agg(row_hash ORDER BY id DESC))[1],
           encode(sha256(convert_to(COALESCE(string_agg(row_hash, '' ORDER BY id), ''), 'UTF8')), 'hex')
    FROM public.%I$q$, p_partition) INTO v_rows, v_first, v_last, v_last_hash, v_digest;
  IF v_rows = 0 THEN
    EXECUTE format('ALTER TABLE configuration_history DETACH PARTITION public.%I', p_partition);
    EXECUTE format('DROP TABLE public.%I', p_partition);
    RETURN NULL;
  END IF;
  -- Runs: rows that follow each other in the chain (a row written around midnight of the month's last day can
  -- sit in the next month's partition, so a partition need not be one stretch of the chain).
  EXECUTE format($q$
    SELECT jsonb_agg(jsonb_build_array(first_id, first_prev, last_id, last_hash, n) ORDER BY first_id) FROM (
      SELECT min(id) AS first_id, (array_agg(prev_hash ORDER BY id))[1] AS first_prev, max(id) AS last_id,
             (array_agg(row_hash ORDER BY id DESC))[1] AS last_hash, count(*) AS n
      FROM (SELECT id, prev_hash, row_hash, count(*) FILTER (WHERE starts) OVER (ORDER BY id) AS run
            FROM (SELECT id, prev_hash, row_hash,
                         prev_hash IS DISTINCT FROM lag(row_hash) OVER (ORDER BY id) AS starts
                  FROM public.%I) s) t
      GROUP BY run) r$q$, p_partition) INTO v_runs;
  v_id := nextval(pg_get_serial_sequence('configuration_history', 'id'));
  v_value := jsonb_build_object('partition', p_partition, 'from', v_from, 'to', v_to, 'first_id', v_first,
                                'last_id', v_last, 'rows', v_rows, 'last_hash', v_last_hash, 'sha256', v_digest,
                                'runs', v_runs)::text;
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
      row_count, last_hash, digest, runs, archived_at)
    VALUES (v_id, v_table, v_from, v_to, v_first, v_last, v_rows, v_last_hash, v_digest, v_runs, v_at);
  RETURN v_id;
END
""".replace("{from_bound}", _BOUND.format(n="'FROM \\(''([^'']+)''\\)'")).replace(
            "{to_bound}", _BOUND.format(n="'TO \\(''([^'']+)''\\)'")
        ),
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
