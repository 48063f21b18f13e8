"""A plaintext value another writer changed since it was read is written over in the same round trip (issue 24;
data/triggers/hot_path.py, data/optimistic.py): ``config_write_or_read`` takes, for each row the application marks
loose (one it writes active and in the clear), a row still active, in the clear, of the type written and of another
value than the one written in place of the version read. The plan made on what was read is then
the plan a fresh read would give, so the write is the locked path's, without the round trip that answered the row
first. A secret (whose sameness needs its plaintext), a changed type, activity or metadata still answer what is there
now. Same signature and result: the function is replaced in place; backwards, migration 0032's comes back.
"""

from django.db import migrations

# Frozen copies of data/triggers/hot_path.py's definition as installed here, and of migration 0032's.
WRITE_OR_READ = r"""CREATE OR REPLACE FUNCTION config_write_or_read(p_write jsonb) RETURNS TABLE(refused text, written bigint, version text, head bigint, category_version bigint, item system_configurations, item_seen text, meta configuration_metadata, meta_seen text)
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

WRITE_OR_READ_0032 = r"""CREATE OR REPLACE FUNCTION config_write_or_read(p_write jsonb) RETURNS TABLE(refused text, written bigint, version text, head bigint, category_version bigint, item system_configurations, item_seen text, meta configuration_metadata, meta_seen text)
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
  -- The keys' metadata and each row still the version read (any UPDATE of a row gives it another xmin): write.
  IF (SELECT COALESCE(array_agg(m.id::text || ':' || m.xmin::text ORDER BY m.id), '{}')
        FROM configuration_metadata m JOIN unnest(v_categories, v_keys) AS w(category, config_key)
       USING (category, config_key)) = ARRAY(SELECT jsonb_array_elements_text(p_write->'metadata_seen'))
     AND (SELECT count(*) FROM system_configurations c
            JOIN jsonb_to_recordset(p_write->'rows') AS v(id bigint, seen text) ON c.id = v.id
           WHERE c.id = ANY(v_ids) AND c.xmin::text = v.seen) = cardinality(v_ids)
  THEN
    UPDATE system_configurations AS c
       SET config_value = v.config_value, value_type = v.value_type, is_encrypted = v.is_encrypted,
           is_active = v.is_active
      FROM jsonb_to_recordset(p_write->'rows')
           AS v(id bigint, config_value text, value_type varchar, is_encrypted boolean, is_active boolean, seen text)
     WHERE c.id = ANY(v_ids) AND c.id = v.id AND c.xmin::text = v.seen;
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


def _run(statement: str):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("configurations", "0032_refused_write_answers_a_read"),
    ]

    operations = [
        migrations.RunPython(_run(WRITE_OR_READ), _run(WRITE_OR_READ_0032)),
    ]
