"""Does every live configuration look the way its latest history row says? (verify_history, defence in depth).

The hash chain proves the history was not edited; it cannot see a write that never reached the history (a
trigger disabled by a superuser, a table shadowed in a function that searched ``pg_temp``: migration 0016).
Such a write leaves the live row different from its latest history row, and that is what this finds, per row:

- the value (for a secret, the marker-with-digest the history keeps: ``sqlfunctions.history_value``), the type,
  the encryption flag, the name (category, key, environment) and whether it is active (the latest of its
  create, deactivate and reactivate entries) differ from the latest history row;
- a live row with no history at all, or whose latest history row records its deletion;
- a history whose latest row is not a deletion, but the live row is gone.

One statement, so one snapshot: a concurrent write cannot make a consistent database look inconsistent. Values
are compared, never printed: a finding names the row and the fields that differ.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from django.db import connection

from .sqlfunctions import history_value

FETCH = 20_000
_TRAIL_COLUMNS = "id, config_id, action, category, config_key, environment, new_value, new_value_type, " \
    "new_is_encrypted, is_secret"  # fmt: skip
_NAMES = "t.category, t.config_key, t.environment"

STATE_SQL = f"""
WITH trail AS (
  SELECT {_TRAIL_COLUMNS} FROM configuration_history
  UNION ALL SELECT {_TRAIL_COLUMNS} FROM configuration_history_archive
),
latest AS (SELECT config_id, MAX(id) AS id FROM trail GROUP BY config_id),
activity AS (
  SELECT config_id, MAX(id) AS id FROM trail WHERE action IN ('create', 'deactivate', 'reactivate')
  GROUP BY config_id
)
SELECT c.id, c.category, c.config_key, c.environment, c.config_value, c.value_type, c.is_encrypted, c.is_active,
       t.id, t.action, {_NAMES}, t.new_value, t.new_value_type, t.new_is_encrypted, t.is_secret, a.action
FROM system_configurations c
LEFT JOIN latest l ON l.config_id = c.id
LEFT JOIN trail t ON t.id = l.id
LEFT JOIN (SELECT x.config_id, x.action FROM activity y JOIN trail x ON x.id = y.id) a ON a.config_id = c.id
UNION ALL
SELECT t.config_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       t.id, t.action, {_NAMES}, NULL, NULL, NULL, NULL, NULL
FROM latest l JOIN trail t ON t.id = l.id
WHERE t.action <> 'delete' AND NOT EXISTS (SELECT 1 FROM system_configurations c WHERE c.id = l.config_id)
ORDER BY 1
"""


@dataclasses.dataclass(frozen=True)
class Drift:
    config_id: int
    history_id: int | None
    message: str


def drifts() -> Iterator[Drift]:
    """Every live row (or vanished row) whose state its history does not record, in config id order."""
    with connection.chunked_cursor() as cursor:
        cursor.execute(STATE_SQL)
        while batch := cursor.fetchmany(FETCH):
            for row in batch:
                found = _drift(row)
                if found:
                    yield found


def _drift(row: tuple) -> Drift | None:
    config_id, live, history_id, action, recorded = row[0], row[1:8], row[8], row[9], row[10:17]
    activity = row[17]
    if live[0] is None:
        name = _name(recorded)
        return Drift(config_id, history_id, f"{name} (config #{config_id}) is gone, but its latest history row "
                     f"#{history_id} ({action}) does not record its deletion")  # fmt: skip
    name = _name(live)
    if history_id is None:
        return Drift(config_id, None, f"{name} (config #{config_id}) has no history row: written outside the trigger")
    if action == "delete":
        return Drift(config_id, history_id, f"{name} (config #{config_id}) exists, but its latest history row "
                     f"#{history_id} records its deletion")  # fmt: skip
    differs = _differences(live, recorded, activity)
    if not differs:
        return None
    return Drift(config_id, history_id, f"{name} (config #{config_id}) differs from its latest history row "
                 f"#{history_id} in {', '.join(differs)}: a change escaped the history")  # fmt: skip


def _differences(live: tuple, recorded: tuple, activity: str | None) -> list[str]:
    category, key, environment, value, value_type, encrypted, active = live
    r_category, r_key, r_environment, r_value, r_type, r_encrypted, r_secret = recorded
    differs = []
    if (category, key, environment) != (r_category, r_key, r_environment):
        differs.append("name (category, key or environment)")
    if history_value(value, bool(r_secret)) != r_value:
        differs.append("value")
    if value_type != r_type:
        differs.append("type")
    if bool(encrypted) != bool(r_encrypted):
        differs.append("encryption")
    if bool(active) != (activity != "deactivate"):
        differs.append("active")
    return differs


def _name(values: tuple) -> str:
    return f"{values[0]}.{values[1]} ({values[2]})"
