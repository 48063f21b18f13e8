"""The functions of the hot paths (issue 24; data/triggers/hot_path.py), planned once per connection instead of on
every call:

- ``config_read_for_write`` reads the rows a write will change and their keys' metadata, with the versions (``xmin``)
  they were read at, without a lock;
- ``config_write_if_unchanged`` sets the audit context, takes the categories' locks and writes the rows, only if
  nothing that was read has changed and no review policy protects the environments; else it raises (SQLSTATE CF001),
  rolling its whole transaction back, and the application takes the locked path (data/optimistic.py);
- ``config_category_version``: a category's version (its newest history id in an environment);
- ``config_user_with_permissions``: a user and every permission they hold (an API token's owner, on every request).
"""

from django.db import migrations

# Frozen copies of data/triggers/hot_path.py's definitions as installed here.
READ_FOR_WRITE = r"""CREATE OR REPLACE FUNCTION config_read_for_write(p_categories character varying[], p_keys character varying[], p_environments character varying[]) RETURNS TABLE(item system_configurations, item_seen text, meta configuration_metadata, meta_seen text)
LANGUAGE plpgsql STABLE SET plan_cache_mode = 'force_generic_plan' AS $fn$
BEGIN
  -- Each wanted (category, key, environment) once, with its row and its key's metadata if they exist, and the version
  -- (xmin) each was read at.
  RETURN QUERY
    SELECT c, c.xmin::text, m, m.xmin::text
      FROM unnest(p_categories, p_keys, p_environments) AS w(category, config_key, environment)
      LEFT JOIN system_configurations c
        ON c.category = w.category AND c.config_key = w.config_key AND c.environment = w.environment
      LEFT JOIN configuration_metadata m ON m.category = w.category AND m.config_key = w.config_key;
END
$fn$"""

WRITE_IF_UNCHANGED = r"""CREATE OR REPLACE FUNCTION config_write_if_unchanged(p_write jsonb) RETURNS bigint
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

CATEGORY_VERSION = r"""CREATE OR REPLACE FUNCTION config_category_version(p_environment character varying, p_category character varying) RETURNS bigint
LANGUAGE plpgsql STABLE SET plan_cache_mode = 'force_generic_plan' AS $fn$
BEGIN
  -- A category's version in an environment: its newest history id there (0: none); idx_confhist_env_category_id.
  RETURN COALESCE((SELECT max(h.id) FROM configuration_history h
                    WHERE h.environment = p_environment AND h.category = p_category), 0);
END
$fn$"""

USER_WITH_PERMISSIONS = r"""CREATE OR REPLACE FUNCTION config_user_with_permissions(p_user_id uuid) RETURNS TABLE(member users, app_label character varying, codename character varying)
LANGUAGE plpgsql STABLE SET plan_cache_mode = 'force_generic_plan' AS $fn$
BEGIN
  -- The user, once per permission they hold (their own and their groups'), or once with no permission.
  RETURN QUERY
    SELECT u, granted.app_label, granted.codename
      FROM users u
      LEFT JOIN (SELECT ct.app_label, p.codename
                   FROM auth_permission p JOIN django_content_type ct ON ct.id = p.content_type_id
                  WHERE p.id IN (SELECT up.permission_id FROM users_user_permissions up WHERE up.user_id = p_user_id
                                 UNION
                                 SELECT gp.permission_id FROM auth_group_permissions gp
                                   JOIN users_groups ug ON ug.group_id = gp.group_id
                                  WHERE ug.user_id = p_user_id)) AS granted ON true
     WHERE u.id = p_user_id;
END
$fn$"""

DROP = [
    "DROP FUNCTION IF EXISTS config_read_for_write(character varying[], character varying[], character varying[])",
    "DROP FUNCTION IF EXISTS config_write_if_unchanged(jsonb)",
    "DROP FUNCTION IF EXISTS config_category_version(character varying, character varying)",
    "DROP FUNCTION IF EXISTS config_user_with_permissions(uuid)",
]


def _run(statements: list[str]):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("configurations", "0028_cheaper_bulk_triggers"),
    ]

    operations = [
        migrations.RunPython(
            _run([READ_FOR_WRITE, WRITE_IF_UNCHANGED, CATEGORY_VERSION, USER_WITH_PERMISSIONS]), _run(DROP)
        ),
    ]
