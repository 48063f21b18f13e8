"""The optimistic write in one statement (issue 24; data/triggers/hot_path.py): ``config_write_if_unchanged`` now
answers the rows it wrote, their new version (the transaction's id, their ``xmin``) and the history's head after them,
as one row, instead of the count alone, which the application followed with two more expressions and a second
statement. A write of its own is then one statement, which the application binds on the server: PostgreSQL parses
and plans it once per connection (data/optimistic.py). Its result's type changes, so the function is dropped and
created again; backwards, the version of migration 0029 comes back.
"""

from django.db import migrations

# Frozen copies of data/triggers/hot_path.py's definition as installed here, and of migration 0029's.
WRITE_IF_UNCHANGED = r"""CREATE OR REPLACE FUNCTION config_write_if_unchanged(p_write jsonb) RETURNS TABLE(written bigint, version text, head bigint)
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
  IF (SELECT COALESCE(array_agg(m.id::text || ':' || m.xmin::text ORDER BY m.id), '{}')
        FROM configuration_metadata m JOIN unnest(v_categories, v_keys) AS w(category, config_key)
       USING (category, config_key)) = ARRAY(SELECT jsonb_array_elements_text(p_write->'metadata_seen'))
     AND NOT EXISTS (SELECT 1 FROM configuration_review_policies p
                      WHERE p.environment IN (SELECT jsonb_array_elements_text(p_write->'environments'))
                        AND p.required_approvals > 0)
     AND (jsonb_typeof(v_version) IS DISTINCT FROM 'object'
          OR COALESCE((SELECT max(h.id) FROM configuration_history h
                        WHERE h.environment = v_version->>'environment' AND h.category = v_version->>'category'), 0)
             IN (SELECT v::bigint FROM jsonb_array_elements_text(v_version->'versions') AS v))
  THEN
    -- Each row only if it is still the version read (any UPDATE of a row gives it another xmin).
    UPDATE system_configurations AS c
       SET config_value = v.config_value, value_type = v.value_type, is_encrypted = v.is_encrypted,
           is_active = v.is_active
      FROM jsonb_to_recordset(p_write->'rows')
           AS v(id bigint, config_value text, value_type varchar, is_encrypted boolean, is_active boolean, seen text)
     WHERE c.id = ANY(v_ids) AND c.id = v.id AND c.xmin::text = v.seen;
    GET DIAGNOSTICS v_written = ROW_COUNT;
  END IF;
  IF v_written IS DISTINCT FROM cardinality(v_ids) THEN
    RAISE EXCEPTION USING ERRCODE = 'CF001',
      MESSAGE = format('%s of %s rows written: what the write read changed before it; nothing was written',
                       COALESCE(v_written, 0), cardinality(v_ids));
  END IF;
  -- With the rows written: their new version (the transaction's id, their xmin) and the history's head after them,
  -- so that the write is one statement.
  RETURN QUERY SELECT v_written, pg_current_xact_id()::xid::text,
                      (SELECT h.last_id FROM configuration_history_head h WHERE h.id = 1);
END
$fn$"""

WRITE_IF_UNCHANGED_0029 = r"""CREATE OR REPLACE FUNCTION config_write_if_unchanged(p_write jsonb) RETURNS bigint
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
  IF (SELECT COALESCE(array_agg(m.id::text || ':' || m.xmin::text ORDER BY m.id), '{}')
        FROM configuration_metadata m JOIN unnest(v_categories, v_keys) AS w(category, config_key)
       USING (category, config_key)) = ARRAY(SELECT jsonb_array_elements_text(p_write->'metadata_seen'))
     AND NOT EXISTS (SELECT 1 FROM configuration_review_policies p
                      WHERE p.environment IN (SELECT jsonb_array_elements_text(p_write->'environments'))
                        AND p.required_approvals > 0)
     AND (jsonb_typeof(v_version) IS DISTINCT FROM 'object'
          OR COALESCE((SELECT max(h.id) FROM configuration_history h
                        WHERE h.environment = v_version->>'environment' AND h.category = v_version->>'category'), 0)
             IN (SELECT v::bigint FROM jsonb_array_elements_text(v_version->'versions') AS v))
  THEN
    -- Each row only if it is still the version read (any UPDATE of a row gives it another xmin).
    UPDATE system_configurations AS c
       SET config_value = v.config_value, value_type = v.value_type, is_encrypted = v.is_encrypted,
           is_active = v.is_active
      FROM jsonb_to_recordset(p_write->'rows')
           AS v(id bigint, config_value text, value_type varchar, is_encrypted boolean, is_active boolean, seen text)
     WHERE c.id = ANY(v_ids) AND c.id = v.id AND c.xmin::text = v.seen;
    GET DIAGNOSTICS v_written = ROW_COUNT;
  END IF;
  IF v_written IS DISTINCT FROM cardinality(v_ids) THEN
    RAISE EXCEPTION USING ERRCODE = 'CF001',
      MESSAGE = format('%s of %s rows written: what the write read changed before it; nothing was written',
                       COALESCE(v_written, 0), cardinality(v_ids));
  END IF;
  RETURN v_written;
END
$fn$"""

DROP = "DROP FUNCTION IF EXISTS config_write_if_unchanged(jsonb)"


def _run(statements: list[str]):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("configurations", "0030_token_owner_signals"),
    ]

    operations = [
        migrations.RunPython(_run([DROP, WRITE_IF_UNCHANGED]), _run([DROP, WRITE_IF_UNCHANGED_0029])),
    ]
