"""A refused optimistic write answers what is there now (issue 24; data/triggers/hot_path.py): ``config_write_or_read``
replaces ``config_write_if_unchanged``. Where something the write read has changed since (a row's version, a key's
metadata), it writes nothing and, instead of raising, answers what it reads under the locks it holds, as
``config_read_for_write`` answers it, so that the application plans again without a round trip of its own: trying a
remembered key is never dearer than reading it first. A review policy or the caller's condition (If-Match) still
refuses, writing and reading nothing. A new function, not the old one changed: its result has more columns and rows.
Backwards, migration 0031's function comes back.
"""

from django.db import migrations

# Frozen copies of data/triggers/hot_path.py's definition as installed here, and of migration 0031's.
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

WRITE_IF_UNCHANGED_0031 = r"""CREATE OR REPLACE FUNCTION config_write_if_unchanged(p_write jsonb) RETURNS TABLE(written bigint, version text, head bigint)
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

DROP_0031 = "DROP FUNCTION IF EXISTS config_write_if_unchanged(jsonb)"
DROP = "DROP FUNCTION IF EXISTS config_write_or_read(jsonb)"


def _run(statements: list[str]):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("configurations", "0031_write_in_one_statement"),
    ]

    operations = [
        migrations.RunPython(_run([DROP_0031, WRITE_OR_READ]), _run([DROP, WRITE_IF_UNCHANGED_0031])),
    ]
