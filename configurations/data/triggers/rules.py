"""What the database itself refuses: a value that breaks its metadata's rules, a secret in the clear.

``validate_configuration_value`` is the spec's validation function (the twin of core/validation.py), kept for
SQL callers. The plaintext refusal holds on every path, raw SQL included: a key is a secret by its name
(``configuration_secret_patterns``, filled from CONFIG_SECRET_KEY_PATTERNS by data/secret_patterns.py) or by
its metadata (input type password), and its value must then be an encrypted envelope. PostgreSQL checks once
per statement over the transition tables: an INSERT with a trigger of its own, an UPDATE in the history trigger's own
query (``refused_sql``; data/triggers/history_postgresql.py), which already joins each changed row with its metadata.
SQLite checks with BEFORE triggers.
"""

from __future__ import annotations

from .definitions import Function, PostgresTrigger, SqliteTrigger

_SECRET_BY_NAME_OR_METADATA = (
    "(EXISTS (SELECT 1 FROM configuration_secret_patterns p WHERE {contains}) "
    "OR EXISTS (SELECT 1 FROM configuration_metadata m WHERE m.category = {row}.category "
    "AND m.config_key = {row}.config_key AND m.input_type = 'password'))"
)
# PostgreSQL's statement-level check reads the patterns once per statement, not once per row (two subqueries a row
# cost 30 ms of a 10,000-row bulk UPDATE), as LIKE patterns with LIKE's wildcards escaped; each changed row's metadata
# comes joined by its key (``{metadata}``), so that a write's cost does not grow with the metadata of other keys (a
# hashed set of every password key read them all: +0.38 ms a one-row UPDATE with 3,000 metadata rows).
_SECRET_BY_NAME_OR_METADATA_ONCE = (
    "(lower({row}.config_key) LIKE ANY (ARRAY(SELECT '%' || replace(replace(replace(p.pattern, '\\', '\\\\'), "
    "'%', '\\%'), '_', '\\_') || '%' FROM configuration_secret_patterns p)) "
    "OR COALESCE({metadata}.input_type = 'password', false))"
)
# The spec's sample row stores an envelope with is_encrypted left at its default: an envelope's shape is accepted.
_PLAINTEXT = "NOT {row}.is_encrypted AND {row}.config_value <> '' AND substr({row}.config_value, 1, 10) <> 'encrypted:'"
_NOT_AN_ENVELOPE = "{row}.is_encrypted AND substr({row}.config_value, 1, 10) <> 'encrypted:'"
PLAINTEXT_MESSAGE = (
    "is a secret (its name matches CONFIG_SECRET_KEY_PATTERNS or its metadata is a password), so its value "
    "must be stored encrypted: write it through the application, which encrypts it"
)
ENVELOPE_MESSAGE = "is marked encrypted, but its value is not an encrypted envelope"


def _plaintext_secret(row: str, contains: str) -> str:
    return f"{_PLAINTEXT} AND {_SECRET_BY_NAME_OR_METADATA}".format(row=row, contains=contains)


def refused_sql(row: str, metadata: str, old: str | None = None) -> str:
    """Whether a row written (``row``, with its key's metadata joined as ``metadata``) is a secret in the clear or a
    value marked encrypted that is no envelope (PostgreSQL). With ``old`` (the row before an UPDATE), only where its
    value, flag or name changed: a legacy row's deactivation is not refused."""
    refused = (
        f"({row}.config_value IS NOT NULL AND (({_NOT_AN_ENVELOPE}) OR ({_PLAINTEXT} AND "
        f"{_SECRET_BY_NAME_OR_METADATA_ONCE})))"
    ).format(row=row, metadata=metadata)
    if old is None:
        return refused
    columns = ("config_value", "is_encrypted", "category", "config_key")
    before, after = (", ".join(f"{alias}.{column}" for column in columns) for alias in (old, row))
    return f"{refused} AND ({before}) IS DISTINCT FROM ({after})"


def refusal_sql(record: str, encrypted: str = "is_encrypted") -> str:
    """The RAISE of a refused row (``record``: its category, config_key, environment and, named ``encrypted``, whether
    it is marked encrypted)."""
    return (
        "RAISE EXCEPTION USING ERRCODE = 'check_violation',\n"
        f"      MESSAGE = format('%s.%s [%s] %s', {record}.category, {record}.config_key, {record}.environment,\n"
        f"                       CASE WHEN {record}.{encrypted} THEN '{ENVELOPE_MESSAGE}'\n"
        f"                            ELSE '{PLAINTEXT_MESSAGE}' END);"
    )


_REFUSE_PLAINTEXT_BODY = f"""
DECLARE r record;
BEGIN
  -- An INSERT's rows (an UPDATE's are checked by the history trigger's query).
  SELECT n.category, n.config_key, n.environment, n.is_encrypted INTO r
    FROM new_rows n
    LEFT JOIN configuration_metadata m ON m.category = n.category AND m.config_key = n.config_key
   WHERE {refused_sql("n", "m")}
   LIMIT 1;
  IF FOUND THEN
    {refusal_sql("r")}
  END IF;
  RETURN NULL;
END
"""

POSTGRESQL_FUNCTIONS = (
    Function(
        name="validate_configuration_value",
        arguments=(
            "p_category character varying, p_config_key character varying, p_config_value text, "
            "p_environment character varying DEFAULT NULL::character varying"
        ),
        returns="boolean",
        language="plpgsql",
        volatility="STABLE",
        body=r"""
DECLARE
  v_metadata configuration_metadata%ROWTYPE;
  v_rules JSONB;
  v_value_type VARCHAR;
  v_required BOOLEAN;
BEGIN
  SELECT * INTO v_metadata
  FROM configuration_metadata
  WHERE category = p_category AND config_key = p_config_key;

  IF NOT FOUND THEN
    -- No metadata means no validation required.
    RETURN TRUE;
  END IF;

  v_rules := COALESCE(v_metadata.validation_rules, '{}'::jsonb);
  IF jsonb_typeof(v_rules) <> 'object' THEN
    v_rules := '{}'::jsonb;
  END IF;

  -- The type is the metadata's when it declares one (as the spec's function meant), else the row's.
  v_value_type := v_metadata.value_type;
  IF v_value_type IS NULL THEN
    SELECT c.value_type INTO v_value_type
    FROM system_configurations c
    WHERE c.category = p_category AND c.config_key = p_config_key
      AND (p_environment IS NULL OR c.environment = p_environment)
    ORDER BY c.is_active DESC, c.id
    LIMIT 1;
  END IF;

  v_required := v_metadata.is_required OR COALESCE((v_rules->>'required')::boolean, false);
  IF p_config_value IS NULL OR p_config_value = '' THEN
    -- An empty value is valid exactly when it is not required; other rules apply to values.
    RETURN NOT v_required;
  END IF;

  IF v_rules ? 'minLength' AND char_length(p_config_value) < (v_rules->>'minLength')::integer THEN
    RETURN FALSE;
  END IF;
  IF v_rules ? 'maxLength' AND char_length(p_config_value) > (v_rules->>'maxLength')::integer THEN
    RETURN FALSE;
  END IF;

  IF v_metadata.input_type = 'number' OR v_value_type = 'number' THEN
    IF p_config_value !~ '^-?[0-9]+(\.[0-9]+)?$' THEN
      RETURN FALSE;
    END IF;
    IF COALESCE((v_rules->>'integer')::boolean, false)
       AND p_config_value::numeric <> trunc(p_config_value::numeric) THEN
      RETURN FALSE;
    END IF;
    IF v_rules ? 'min' AND p_config_value::numeric < (v_rules->>'min')::numeric THEN
      RETURN FALSE;
    END IF;
    IF v_rules ? 'max' AND p_config_value::numeric > (v_rules->>'max')::numeric THEN
      RETURN FALSE;
    END IF;
  END IF;

  IF v_rules ? 'options' AND jsonb_typeof(v_rules->'options') = 'array' AND NOT EXISTS (
    SELECT 1 FROM jsonb_array_elements_text(v_rules->'options') AS o(option) WHERE o.option = p_config_value
  ) THEN
    RETURN FALSE;
  END IF;

  IF v_rules ? 'pattern' AND p_config_value !~ (v_rules->>'pattern') THEN
    RETURN FALSE;
  END IF;

  RETURN TRUE;
END
""",
    ),
    Function(
        name="config_refuse_plaintext_secrets",
        arguments="",
        returns="trigger",
        language="plpgsql",
        search_path="pg_catalog, public, pg_temp",
        body=_REFUSE_PLAINTEXT_BODY,
    ),
)

POSTGRESQL_TRIGGERS = tuple(
    PostgresTrigger.of(
        f"system_configurations_secrets_{event.lower()}",
        f"AFTER {event}",
        "system_configurations",
        "config_refuse_plaintext_secrets",
        referencing=tables,
    )
    for event, tables in (("INSERT", "NEW TABLE AS new_rows"),)
)

_SQLITE_CHANGED = (
    " AND (NEW.config_value IS NOT OLD.config_value OR NEW.is_encrypted IS NOT OLD.is_encrypted "
    "OR NEW.category IS NOT OLD.category OR NEW.config_key IS NOT OLD.config_key)"
)

_SQLITE_CHECKS = {
    "plaintext": (_plaintext_secret("NEW", "instr(lower(NEW.config_key), p.pattern) > 0"), PLAINTEXT_MESSAGE),
    "envelope": (_NOT_AN_ENVELOPE.format(row="NEW"), ENVELOPE_MESSAGE),
}


def _sqlite_trigger(event: str, check: str) -> SqliteTrigger:
    condition, message = _SQLITE_CHECKS[check]
    name = f"system_configurations_secrets_{check}_{event.lower()}"
    literal = ("a configuration " + message).replace("'", "''")
    changed = _SQLITE_CHANGED if event == "UPDATE" else ""
    return SqliteTrigger(
        name,
        "system_configurations",
        f"CREATE TRIGGER {name} BEFORE {event} ON system_configurations "
        f"WHEN NEW.config_value IS NOT NULL AND {condition}{changed} "
        f"BEGIN SELECT RAISE(ABORT, '{literal}'); END",
    )


SQLITE_TRIGGERS = tuple(_sqlite_trigger(event, check) for event in ("INSERT", "UPDATE") for check in _SQLITE_CHECKS)
