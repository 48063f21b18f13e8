"""The configuration history on PostgreSQL: the audit context, the history trigger and its hash chain.

``log_configuration_change`` (SECURITY DEFINER, statement-level) writes one history row per changed row, with
who, why and from where (the transaction-local audit context, data/audit.py), a secret's value never in the
clear (``config_history_value``), each row chained to the last (``config_history_content``,
``config_chain_hash``; the Python twin is data/chain.py), and one outbox event per history row
(``configuration_events``, webhooks). ``config_touch_row`` keeps ``updated_at`` strictly
increasing and leaves an unchanged row untouched; ``config_history_fill_identity`` completes a history row
written by hand; ``config_archive_history`` moves old rows to the archive without editing them.
"""

from __future__ import annotations

from . import rules
from .definitions import Function, PostgresTrigger
from .outbox import SUBSCRIBED

# A history action's event type (data/webhook_models.py, ACTION_EVENTS), in SQL both engines run.
EVENT_TYPE_SQL = (
    "'configuration.' || CASE {action} WHEN 'create' THEN 'created' WHEN 'update' THEN 'updated' "
    "WHEN 'deactivate' THEN 'deactivated' WHEN 'reactivate' THEN 'reactivated' ELSE 'deleted' END"
)

# Each changed row with the id it will have and its canonical content, in the order the chain takes them.
# The id is drawn in the inner query (volatile, so evaluated once per row, in order); the sequence is named, so that
# PostgreSQL resolves it once, as the statement's plan is made (migration 0025 named it; looking it up on every call,
# ``pg_get_serial_sequence``, was 2 % of a single write). The content is computed from it set-based, with the SQL
# functions inlined.
_ENTRIES = (
    "SELECT e.*, config_history_content(e.id, e.config_id, e.old_value, e.new_value, e.changed_by, v_reason, v_ip, "
    "v_agent, e.created_at, e.category, e.config_key, e.environment, e.action, e.old_value_type, e.new_value_type, "
    "e.old_is_encrypted, e.new_is_encrypted, e.is_secret) AS content FROM ("
    "SELECT nextval('configuration_history_id_seq') AS id, q.* FROM"
)

# The lock every writer of the chain takes before the head row, held until its transaction ends: an advisory lock of
# the two-key form (the categories' locks, data/locks.py, and the webhooks' take the one-key form: never the same lock).
CHAIN_LOCK = "pg_advisory_xact_lock(1667655523, 1)"  # 1667655523: b"cfgc"

# A changed row's updated_at (``{row}``: the row before the change), as config_touch_row sets it and as a writer may
# give it to spare the trigger its assignment (data/triggers/hot_path.py).
TOUCHED_AT = "GREATEST(statement_timestamp(), {row}.updated_at + interval '1 microsecond')"

POSTGRESQL_FUNCTIONS = (
    Function(
        name="config_audit_setting",
        arguments="p_name text",
        returns="text",
        language="sql",
        volatility="STABLE",
        body=r"""
  -- Transaction-local context set by the application; '' once a transaction that set it is over.
  SELECT NULLIF(current_setting('app.' || p_name, true), '')
""",
    ),
    Function(
        name="config_history_value",
        arguments="p_value text, p_secret boolean",
        returns="text",
        language="sql",
        # STABLE like convert_to, which it calls: an IMMUTABLE function calling a STABLE one is never inlined, and
        # calling it cost 2 microseconds a value (40 ms of a 10,000-row bulk UPDATE's trigger).
        volatility="STABLE",
        body=r"""
  -- What history keeps of a value: a secret's neither plaintext nor ciphertext; anything else as it is.
  SELECT CASE
    WHEN p_value IS NULL THEN NULL
    WHEN NOT COALESCE(p_secret, false) THEN p_value
    WHEN p_value LIKE 'encrypted:%' THEN
      '[secret key=' || COALESCE(NULLIF(split_part(p_value, ':', 4), ''), '?')
      || ' sha256=' || left(encode(sha256(convert_to(p_value, 'UTF8')), 'hex'), 16) || ']'
    ELSE '[secret]'
  END
""",
    ),
    Function(
        name="config_touch_row",
        arguments="",
        returns="trigger",
        language="plpgsql",
        body=r"""
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
    IF NEW.updated_at IS DISTINCT FROM {touched} THEN
      NEW.updated_at := {touched};
    END IF;
  END IF;
  IF v_actor IS NOT NULL AND NEW.updated_by IS DISTINCT FROM v_actor THEN
    NEW.updated_by := v_actor;
  END IF;
  RETURN NEW;
END
""".replace("{touched}", TOUCHED_AT.format(row="OLD")),
    ),
    Function(
        name="log_configuration_change",
        arguments="",
        returns="trigger",
        language="plpgsql",
        security_definer=True,
        # The transition tables have no statistics: a bulk statement's estimate (500,000 rows for 10,000) made
        # PostgreSQL JIT-compile the changed rows' query, 26 ms of 180.
        settings=("jit=off",),
        body=r"""
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
  PERFORM {chain_lock};
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
             NULL::boolean AS old_is_encrypted, n.is_encrypted AS new_is_encrypted, s.secret AS is_secret,
             false AS refused
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
             o.is_encrypted AS old_is_encrypted, n.is_encrypted AS new_is_encrypted, s.secret AS is_secret,
             {refused} AS refused
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
      {refusal}
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
    IF {subscribed} THEN
      INSERT INTO configuration_events (event_type, history_id, category, config_key, environment, created_at)
        SELECT {event_type}, h.id, h.category, h.config_key, h.environment, h.created_at FROM unnest(v_rows) h;
    END IF;
  END IF;
  RETURN NULL;
END
""".replace("{chain_lock}", CHAIN_LOCK)
        .replace("{entries}", _ENTRIES)
        .replace("{refused}", rules.refused_sql("n", "m", old="o"))
        .replace("{refusal}", rules.refusal_sql("r", encrypted="new_is_encrypted"))
        .replace("{event_type}", EVENT_TYPE_SQL.format(action="h.action"))
        .replace("{subscribed}", SUBSCRIBED),
    ),
    Function(
        name="config_history_fill_identity",
        arguments="",
        returns="trigger",
        language="plpgsql",
        body=r"""
BEGIN
  -- History written by hand (as in the spec's sample data) names only config_id.
  SELECT c.category, c.config_key, c.environment
    INTO NEW.category, NEW.config_key, NEW.environment
    FROM system_configurations c WHERE c.id = NEW.config_id;
  RETURN NEW;
END
""",
    ),
    Function(
        name="config_history_field",
        arguments="p text",
        returns="text",
        language="sql",
        volatility="IMMUTABLE",
        body=r"""
  SELECT CASE WHEN p IS NULL THEN '~' ELSE char_length(p)::text || ':' || p END
""",
    ),
    Function(
        name="config_history_flag",
        arguments="p boolean",
        returns="text",
        language="sql",
        volatility="IMMUTABLE",
        body=r"""
  SELECT CASE WHEN p IS NULL THEN NULL WHEN p THEN 'true' ELSE 'false' END
""",
    ),
    Function(
        name="config_history_content",
        arguments=(
            "p_id bigint, p_config_id bigint, p_old_value text, p_new_value text, p_changed_by uuid, "
            "p_change_reason text, p_ip_address inet, p_user_agent text, p_created_at timestamp with time zone, "
            "p_category text, p_config_key text, p_environment text, p_action text, p_old_value_type text, "
            "p_new_value_type text, p_old_is_encrypted boolean, p_new_is_encrypted boolean, p_is_secret boolean"
        ),
        returns="text",
        language="sql",
        volatility="STABLE",
        body=r"""
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
""",
    ),
    Function(
        name="config_chain_hash",
        arguments="p_previous text, p_content text",
        returns="text",
        language="sql",
        volatility="IMMUTABLE",
        body=r"""
  SELECT encode(sha256(convert_to(COALESCE(p_previous, '') || p_content, 'UTF8')), 'hex')
""",
    ),
    Function(
        name="current_user_id",
        arguments="",
        returns="uuid",
        language="sql",
        volatility="STABLE",
        body=r"""
  -- The actor of the current transaction: the transaction-local audit context (configurations.audit).
  SELECT NULLIF(current_setting('app.actor', true), '')::uuid
""",
    ),
    Function(
        name="config_archive_history",
        arguments="p_cutoff timestamp with time zone, p_last_id bigint",
        returns="bigint",
        language="plpgsql",
        security_definer=True,
        body=r"""
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
""",
    ),
)

_NEW = "NEW TABLE AS new_rows"
_OLD = "OLD TABLE AS old_rows"
POSTGRESQL_TRIGGERS = (
    PostgresTrigger.of(
        "system_configurations_touch",
        "BEFORE INSERT OR UPDATE",
        "system_configurations",
        "config_touch_row",
        each="ROW",
    ),
    PostgresTrigger.of(
        "system_configurations_history_insert",
        "AFTER INSERT",
        "system_configurations",
        "log_configuration_change",
        referencing=_NEW,
    ),
    PostgresTrigger.of(
        "system_configurations_history_update",
        "AFTER UPDATE",
        "system_configurations",
        "log_configuration_change",
        referencing=f"{_OLD} {_NEW}",
    ),
    PostgresTrigger.of(
        "system_configurations_history_delete",
        "AFTER DELETE",
        "system_configurations",
        "log_configuration_change",
        referencing=_OLD,
    ),
    PostgresTrigger.of(
        "configuration_history_fill_identity",
        "BEFORE INSERT",
        "configuration_history",
        "config_history_fill_identity",
        each="ROW",
        condition="(new.category IS NULL)",
    ),
)
