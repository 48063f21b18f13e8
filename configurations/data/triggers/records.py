"""Metadata, template and review-policy history: simple-history's tables, written by the database on every path.

Every INSERT, UPDATE (that changes something) and DELETE of ``configuration_metadata`` or
``configuration_templates``, by the ORM, ``QuerySet.update()``, ``bulk_update`` or raw SQL, leaves exactly one
record in the model's simple-history table (``configuration_metadata_changes``,
``configuration_templates_changes``): the new state (the last one for a delete), the old state
(``history_old_state``, for an update), who, why and from where (the transaction-local audit context), and a
link in that table's hash chain (``history_prev_hash``, ``history_row_hash``; the head in ``audit_chain_heads``).
simple-history's own signals write nothing (data/models.py, ``DatabaseRecordedHistory``).

The content hashed: on PostgreSQL the record as ``jsonb`` without NULLs and without the hash columns, written in
UTC (``RECORD_CONTENT_SQL``); on SQLite the columns of ``CONTENT_COLUMNS`` in order, joined as data/chain.py
joins a history row's (data/sqlfunctions.py, ``config_record_content``). verify_history recomputes both.
"""

from __future__ import annotations

from .definitions import Function, PostgresTrigger, SqliteTrigger

# The audited tables and their simple-history tables.
RECORDED = {
    "configuration_metadata": "configuration_metadata_changes",
    "configuration_templates": "configuration_templates_changes",
    "configuration_review_policies": "configuration_review_policies_changes",
    "configuration_webhook_endpoints": "configuration_webhook_endpoints_changes",
}
# Each audited table's columns, as its history table repeats them.
COLUMNS = {
    "configuration_metadata": (
        "id", "category", "config_key", "display_name", "description", "input_type", "validation_rules",
        "default_value", "is_required", "sort_order", "group_name", "help_text", "created_at", "value_type",
    ),
    "configuration_templates": (
        "id", "provider_name", "category", "template_data", "description", "is_active", "created_at", "updated_at",
    ),
    "configuration_review_policies": ("environment", "required_approvals", "allow_self_approval", "updated_at"),
    "configuration_webhook_endpoints": (
        "id", "name", "url", "environments", "categories", "key_patterns", "event_types", "is_active", "description",
        "created_at", "updated_at",
    ),
}  # fmt: skip
_JSON = frozenset({"validation_rules", "template_data", "environments", "categories", "key_patterns", "event_types"})
_BOOLEAN = frozenset({"is_required", "is_active", "allow_self_approval"})
_TIME = frozenset({"created_at", "updated_at"})
HISTORY_COLUMNS = (
    "history_id", "history_date", "history_change_reason", "history_type", "history_user_id",
    "history_old_state", "history_ip_address", "history_user_agent",
)  # fmt: skip
# What a record's hash covers on SQLite, in order.
CONTENT_COLUMNS = {table: (*columns, *HISTORY_COLUMNS) for table, columns in COLUMNS.items()}
# What a record's hash covers on PostgreSQL ({row}: the record).
RECORD_CONTENT_SQL = "(jsonb_strip_nulls(to_jsonb({row})) - 'history_prev_hash' - 'history_row_hash')::text"

POSTGRESQL_FUNCTIONS = (
    Function(
        name="config_record_content",
        arguments="p_row anyelement",
        returns="text",
        language="sql",
        volatility="STABLE",
        settings=("TimeZone=UTC",),
        body="\n  -- The canonical text of a metadata or template history record, in UTC whatever the session's zone.\n"
        f"  SELECT {RECORD_CONTENT_SQL.format(row='p_row')}\n",
    ),
    Function(
        name="config_record_change",
        arguments="",
        returns="trigger",
        language="plpgsql",
        security_definer=True,
        body=r"""
DECLARE
  v_table text := TG_ARGV[0];
  v_record jsonb;
  v_prev text;
  v_hash text;
  v_content text;
  v_id bigint;
BEGIN
  IF TG_OP = 'UPDATE' AND to_jsonb(OLD) = to_jsonb(NEW) THEN
    RETURN NULL;  -- nothing changed: no record
  END IF;
  -- One writer at a time extends the table's chain, until its transaction ends.
  SELECT last_hash INTO v_prev FROM audit_chain_heads WHERE table_name = v_table FOR UPDATE;
  IF NOT FOUND THEN
    -- No head yet, or it was flushed: the chain goes on from the table's last record.
    EXECUTE format('INSERT INTO audit_chain_heads (table_name, last_id, last_hash) '
                   'SELECT %L, max(history_id), (array_agg(history_row_hash ORDER BY history_id DESC))[1] FROM %I '
                   'ON CONFLICT (table_name) DO NOTHING', v_table, v_table);
    SELECT last_hash INTO v_prev FROM audit_chain_heads WHERE table_name = v_table FOR UPDATE;
  END IF;
  v_id := nextval(pg_get_serial_sequence(v_table, 'history_id'));
  v_record := CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END || jsonb_build_object(
    'history_id', v_id,
    'history_date', clock_timestamp(),
    'history_type', CASE TG_OP WHEN 'INSERT' THEN '+' WHEN 'UPDATE' THEN '~' ELSE '-' END,
    'history_user_id', config_audit_setting('actor')::uuid,
    'history_change_reason', config_audit_setting('reason'),
    'history_ip_address', config_audit_setting('ip_address')::inet,
    'history_user_agent', config_audit_setting('user_agent'),
    'history_old_state', CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) END,
    'history_prev_hash', v_prev);
  EXECUTE format('SELECT config_record_content(r) FROM jsonb_populate_record(NULL::%I, $1) r', v_table)
    INTO v_content USING v_record;
  v_hash := config_chain_hash(v_prev, v_content);
  EXECUTE format('INSERT INTO %I SELECT * FROM jsonb_populate_record(NULL::%I, $1)', v_table, v_table)
    USING v_record || jsonb_build_object('history_row_hash', v_hash);
  UPDATE audit_chain_heads SET last_id = v_id, last_hash = v_hash WHERE table_name = v_table;
  RETURN NULL;
END
""",
    ),
)

POSTGRESQL_TRIGGERS = tuple(
    PostgresTrigger.of(
        f"{table}_record",
        "AFTER INSERT OR DELETE OR UPDATE",
        table,
        "config_record_change",
        each="ROW",
        arguments=f"'{history}'",
    )
    for table, history in RECORDED.items()
)

_ACTOR = "NULLIF(current_setting('app.actor', 1), '')"
_CONTEXT = (
    f"{_ACTOR}, NULLIF(current_setting('app.reason', 1), ''), "
    "NULLIF(current_setting('app.ip_address', 1), ''), NULLIF(current_setting('app.user_agent', 1), '')"
)


def _state(table: str, row: str) -> str:
    """The row as a JSON object, the way PostgreSQL's to_jsonb writes its JSON and boolean columns."""

    def value(column: str) -> str:
        if column in _JSON:
            return f"json({row}.{column})"
        if column in _BOOLEAN:
            return f"json(CASE WHEN {row}.{column} THEN 'true' ELSE 'false' END)"
        return f"{row}.{column}"

    return "json_object(" + ", ".join(f"'{column}', {value(column)}" for column in COLUMNS[table]) + ")"


def _chain(table: str) -> str:
    history = RECORDED[table]
    previous = (
        f"COALESCE((SELECT last_hash FROM audit_chain_heads WHERE table_name = '{history}'), "
        f"(SELECT history_row_hash FROM {history} WHERE history_id < last_insert_rowid() "
        "ORDER BY history_id DESC LIMIT 1))"
    )
    return (
        f"  UPDATE {history}\n     SET history_prev_hash = {previous},\n"
        f"         history_row_hash = config_chain_hash({previous}, "
        f"config_record_content({', '.join(CONTENT_COLUMNS[table])}))\n"
        "   WHERE history_id = last_insert_rowid();\n"
        "  INSERT OR REPLACE INTO audit_chain_heads (table_name, last_id, last_hash)\n"
        f"  VALUES ('{history}', last_insert_rowid(), "
        f"(SELECT history_row_hash FROM {history} WHERE history_id = last_insert_rowid()));\n"
    )


def _differs(column: str) -> str:
    """The column changed: by value for times, which the ORM may write back in another text format."""
    if column in _TIME:
        return f"julianday(OLD.{column}) IS NOT julianday(NEW.{column})"
    return f"OLD.{column} IS NOT NEW.{column}"


def changed_condition(table: str) -> str:
    """SQLite: an UPDATE of ``table`` changed one of its columns (the WHEN of its AFTER UPDATE triggers)."""
    return " OR ".join(_differs(column) for column in COLUMNS[table])


def _sqlite_trigger(table: str, event: str) -> SqliteTrigger:
    row, kind = ("OLD", "-") if event == "DELETE" else ("NEW", "+" if event == "INSERT" else "~")
    columns = COLUMNS[table]
    old_state = _state(table, "OLD") if event == "UPDATE" else "NULL"
    changed = changed_condition(table)
    name = f"{table}_record_{event.lower()}"
    return SqliteTrigger(
        name,
        table,
        f"CREATE TRIGGER {name}\nAFTER {event} ON {table}\n"
        + (f"WHEN {changed}\n" if event == "UPDATE" else "")
        + f"BEGIN\n  INSERT INTO {RECORDED[table]} ({', '.join(columns)}, history_date, history_type, "
        "history_user_id, history_change_reason, history_ip_address, history_user_agent, history_old_state)\n"
        f"  VALUES ({', '.join(f'{row}.{column}' for column in columns)}, config_next_timestamp(NULL), '{kind}', "
        f"{_CONTEXT}, {old_state});\n" + _chain(table) + "END",
    )


SQLITE_TRIGGERS = tuple(_sqlite_trigger(table, event) for table in RECORDED for event in ("INSERT", "UPDATE", "DELETE"))
