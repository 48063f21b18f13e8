"""The webhooks' transactional outbox beyond configuration values: metadata, templates, applied change requests.

Each change writes one ``configuration_events`` row in its own transaction (a rolled-back one writes none), on every
path, raw SQL included. Configuration values' events are written by the history triggers, one per history row
(history_postgresql.py, history_sqlite.py). An UPDATE that changes nothing emits nothing.

While no webhook endpoint exists, nothing is written: the dispatcher gives an event only to endpoints that existed
when it happened, so such an event could never be delivered, and on a bulk change its row cost 40 ms per 10,000
(issue 27). An endpoint, active or paused, receives the changes made after its creation is committed.
"""

from __future__ import annotations

from .definitions import Function, PostgresTrigger, SqliteTrigger
from .records import changed_condition

_EVENTS = "INSERT INTO configuration_events (event_type, category, config_key, environment, subject)"
# Whether any endpoint could receive an event (one index probe, once per statement or row).
SUBSCRIBED = "EXISTS (SELECT 1 FROM configuration_webhook_endpoints)"

POSTGRESQL_FUNCTIONS = (
    Function(
        name="config_outbox_row",
        arguments="",
        returns="trigger",
        language="plpgsql",
        security_definer=True,
        body=rf"""
DECLARE
  -- TG_ARGV: the event type, then the columns that name the event's key and subject ('' for none).
  v_row jsonb;
BEGIN
  IF (TG_OP = 'UPDATE' AND to_jsonb(OLD) = to_jsonb(NEW)) OR NOT {SUBSCRIBED} THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' THEN
    v_row := to_jsonb(OLD);
  ELSE
    v_row := to_jsonb(NEW);
  END IF;
  {_EVENTS}
    VALUES (TG_ARGV[0], v_row->>'category', v_row->>TG_ARGV[1], NULL, v_row->>TG_ARGV[2]);
  RETURN NULL;
END
""",
    ),
    Function(
        name="config_outbox_request_applied",
        arguments="",
        returns="trigger",
        language="plpgsql",
        security_definer=True,
        body=rf"""
BEGIN
  IF {SUBSCRIBED} THEN
    {_EVENTS} VALUES ('change_request.applied', NULL, NULL, NEW.environment, NEW.id::text);
  END IF;
  RETURN NULL;
END
""",
    ),
)

POSTGRESQL_TRIGGERS = (
    *(
        PostgresTrigger.of(
            f"{table}_outbox",
            "AFTER INSERT OR DELETE OR UPDATE",
            table,
            "config_outbox_row",
            each="ROW",
            arguments=f"'{event}', '{key}', '{subject}'",
        )
        for table, event, key, subject in (
            ("configuration_metadata", "metadata.changed", "config_key", ""),
            ("configuration_templates", "template.changed", "", "provider_name"),
        )
    ),
    PostgresTrigger.of(
        "configuration_change_requests_outbox",
        "AFTER UPDATE",
        "configuration_change_requests",
        "config_outbox_request_applied",
        each="ROW",
        condition="(((new.state)::text = 'applied'::text) AND ((old.state)::text IS DISTINCT FROM 'applied'::text))",
    ),
)


def _sqlite(name: str, table: str, event: str, values: str, when: str = "") -> SqliteTrigger:
    when = f"({when}) AND {SUBSCRIBED}" if when else SUBSCRIBED
    return SqliteTrigger(
        name,
        table,
        f"CREATE TRIGGER {name}\nAFTER {event} ON {table}\nWHEN {when}\nBEGIN\n  {_EVENTS}\n  VALUES ({values});\nEND",
    )


SQLITE_TRIGGERS = (
    *(
        _sqlite(
            f"configuration_metadata_outbox_{event.lower()}",
            "configuration_metadata",
            event,
            f"'metadata.changed', {row}.category, {row}.config_key, NULL, NULL",
            changed_condition("configuration_metadata") if event == "UPDATE" else "",
        )
        for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))
    ),
    *(
        _sqlite(
            f"configuration_templates_outbox_{event.lower()}",
            "configuration_templates",
            event,
            f"'template.changed', {row}.category, NULL, NULL, {row}.provider_name",
            changed_condition("configuration_templates") if event == "UPDATE" else "",
        )
        for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))
    ),
    _sqlite(
        "configuration_change_requests_outbox",
        "configuration_change_requests",
        "UPDATE",
        "'change_request.applied', NULL, NULL, NEW.environment, CAST(NEW.id AS TEXT)",
        "NEW.state = 'applied' AND OLD.state IS NOT 'applied'",
    ),
)
