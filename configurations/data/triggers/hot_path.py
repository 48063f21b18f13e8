"""Functions of the hot paths (PostgreSQL): statements planned once per connection, not on every call.

A statement sent with its parameters bound on the client (Django's default with psycopg 3) is parsed and planned each
time it runs: 0.2 to 0.6 ms for the write path's reads (ten indexes on the configurations, 29 history partitions),
more than running them. A PL/pgSQL function keeps its statements' plans for the connection's life; these ask for
generic plans, since no parameter value is worth a plan of its own. Used by data/optimistic.py (the two round trips of
a write of its own), data/accounts.py (a token owner with their permissions) and services/versions.py (a category's
version).
"""

from __future__ import annotations

from .definitions import Function
from .history_postgresql import TOUCHED_AT

GENERIC_PLANS = ("plan_cache_mode=force_generic_plan",)

# A row still as read: the version read (any UPDATE of a row gives it another xmin) or, for a row marked loose (a
# plaintext value kept active and of its type), still of that type, active, in the clear and of another value than
# the one written: the plan made on what was read is then the very plan a fresh read would give, and the value is
# written over whatever another writer left (as the locked path would). ``{seen}`` etc. are what the order says.
_STILL_AS_READ = (
    "(c.xmin::text = {seen} OR ({loose} AND c.is_active AND NOT c.is_encrypted AND c.value_type = {value_type} "
    "AND c.config_value IS DISTINCT FROM {config_value}))"
)
_ONE = {field: f"(v_one->>'{field}')" for field in ("seen", "value_type", "config_value")} | {
    "loose": "(v_one->>'loose')::boolean"
}
_EACH = {field: f"v.{field}" for field in ("seen", "loose", "value_type", "config_value")}

# The columns config_touch_row sets, given as it would set them, so that it has nothing to assign.
_TOUCH = (
    f"updated_at = {TOUCHED_AT.format(row='c')}, "
    "updated_by = COALESCE(config_audit_setting('actor')::uuid, c.updated_by)"
)

WRITE_OR_READ_BODY = (
    r"""
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
    SELECT {one_still}
           AND (SELECT COALESCE(jsonb_agg(m.id::text || ':' || m.xmin::text), '[]')
                  FROM configuration_metadata m
                 WHERE m.category = p_write->'metadata'->0->>'category'
                   AND m.config_key = p_write->'metadata'->0->>'config_key') = p_write->'metadata_seen'
      INTO v_current
      FROM system_configurations c WHERE c.id = (v_one->>'id')::bigint;
    IF v_current THEN
      UPDATE system_configurations AS c
         SET config_value = v_one->>'config_value', value_type = v_one->>'value_type',
             is_encrypted = (v_one->>'is_encrypted')::boolean, is_active = (v_one->>'is_active')::boolean, {touch}
       WHERE c.id = (v_one->>'id')::bigint AND {one_still};
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
            WHERE c.id = ANY(v_ids) AND {each_still}) = cardinality(v_ids);
    IF v_current THEN
      UPDATE system_configurations AS c
         SET config_value = v.config_value, value_type = v.value_type, is_encrypted = v.is_encrypted,
             is_active = v.is_active, {touch}
        FROM jsonb_to_recordset(p_write->'rows')
             AS v(id bigint, config_value text, value_type varchar, is_encrypted boolean, is_active boolean, seen text,
                  loose boolean)
       WHERE c.id = ANY(v_ids) AND c.id = v.id AND {each_still};
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
""".replace("{one_still}", _STILL_AS_READ.format(**_ONE))
    .replace("{each_still}", _STILL_AS_READ.format(**_EACH))
    .replace("{touch}", _TOUCH)
)

READ_FOR_WRITE_BODY = r"""
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
"""

CATEGORY_VERSION_BODY = r"""
BEGIN
  -- A category's version in an environment: its newest history id there (0: none); idx_confhist_env_category_id.
  RETURN COALESCE((SELECT max(h.id) FROM configuration_history h
                    WHERE h.environment = p_environment AND h.category = p_category), 0);
END
"""

USER_WITH_PERMISSIONS_BODY = r"""
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
"""

POSTGRESQL_FUNCTIONS = (
    # A write validated outside the lock (data/optimistic.py): what it reads, with the versions read; then the audit
    # context, the locks, and the write of each row only if nothing that was read has changed, answering the rows'
    # new version and the history's head; else, writing nothing, what is there now (or only its refusal, where a
    # review policy or the caller's condition stands in the way).
    Function(
        name="config_read_for_write",
        arguments="p_categories character varying[], p_keys character varying[], p_environments character varying[]",
        returns=("TABLE(item system_configurations, item_seen text, meta configuration_metadata, meta_seen text)"),
        language="plpgsql",
        volatility="STABLE",
        settings=GENERIC_PLANS,
        body=READ_FOR_WRITE_BODY,
    ),
    Function(
        name="config_write_or_read",
        arguments="p_write jsonb",
        returns=(
            "TABLE(refused text, written bigint, version text, head bigint, category_version bigint, "
            "item system_configurations, item_seen text, meta configuration_metadata, meta_seen text)"
        ),
        language="plpgsql",
        settings=GENERIC_PLANS,
        body=WRITE_OR_READ_BODY,
    ),
    Function(
        name="config_category_version",
        arguments="p_environment character varying, p_category character varying",
        returns="bigint",
        language="plpgsql",
        volatility="STABLE",
        settings=GENERIC_PLANS,
        body=CATEGORY_VERSION_BODY,
    ),
    Function(
        name="config_user_with_permissions",
        arguments="p_user_id uuid",
        returns="TABLE(member users, app_label character varying, codename character varying)",
        language="plpgsql",
        volatility="STABLE",
        settings=GENERIC_PLANS,
        body=USER_WITH_PERMISSIONS_BODY,
    ),
)
