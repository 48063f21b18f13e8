"""Does every live configuration look the way its latest history row says? (verify_history, defence in depth).

The hash chain proves the history was not edited; it cannot see a write that never reached the history (a
trigger disabled by a superuser, a table shadowed in a function that searched ``pg_temp``: migration 0016).
Such a write leaves the live row different from its latest history row, and that is what this finds, per row:

- the value (for a secret, the marker-with-digest the history keeps: ``sqlfunctions.history_value``), the type,
  the encryption flag, the name (category, key, environment) and whether it is active (the latest of its
  create, deactivate and reactivate entries) differ from the latest history row;
- a live row with no history at all, or whose latest history row records its deletion;
- a history whose latest row is not a deletion, but the live row is gone.

``Tracker`` is fed every history row by verify_history's walk of the trail (which reads them all anyway, in id
order), keeping per configuration only its latest entry and its latest activity; then one read of the live
table is compared with it. verify_history runs both in one REPEATABLE READ transaction on PostgreSQL (one
transaction on SQLite), so a concurrent write cannot make a consistent database look inconsistent. Values are
compared, never printed: a finding names the row and the fields that differ.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Iterator

from django.db import connection

from .chain import FIELDS
from .sqlfunctions import history_value

FETCH = 20_000
LIVE_SQL = (
    "SELECT id, category, config_key, environment, config_value, value_type, is_encrypted, is_active "
    "FROM system_configurations ORDER BY id"
)
_CONFIG_ID, _ACTION = FIELDS.index("config_id"), FIELDS.index("action")
_ACTIVITY = frozenset({"create", "deactivate", "reactivate"})
# Where each field is in a trail row (FIELDS order, as the walk reads them).
_AT = {name: FIELDS.index(name) for name in FIELDS}
_KEPT = operator.itemgetter(*(
    _AT[name]
    for name in ("id", "action", "category", "config_key", "environment", "new_value", "new_value_type",
                 "new_is_encrypted", "is_secret")
))  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Drift:
    """A live configuration that differs from what its latest history row records."""

    config_id: int
    history_id: int | None
    message: str


class Tracker:
    """The latest history entry and the latest activity of each configuration, from the walk's rows."""

    def __init__(self, *, partial: bool = False) -> None:
        # partial: some history was archived and not read, so a configuration may have no row seen, or not its
        # latest activity; neither is then a finding.
        self.partial = partial
        self.latest: dict[int, tuple] = {}
        self.activity: dict[int, str] = {}

    def track(self, row: tuple) -> None:
        """Note a history row (in id order) as the latest of its configuration (checkpoints are of no row)."""
        config_id, action = int(row[_CONFIG_ID]), row[_ACTION]
        if action == "checkpoint":
            return
        self.latest[config_id] = _KEPT(row)
        if action in _ACTIVITY:
            self.activity[config_id] = action

    def drifts(self) -> Iterator[Drift]:
        """Every live row (or vanished row) whose state its history does not record, in config id order."""
        unseen = set(self.latest)
        with connection.chunked_cursor() as cursor:
            cursor.execute(LIVE_SQL)
            while batch := cursor.fetchmany(FETCH):
                for live in batch:
                    config_id = live[0]
                    unseen.discard(config_id)
                    found = self._drift(config_id, live[1:], self.latest.get(config_id))
                    if found:
                        yield found
        for config_id in sorted(unseen):
            entry = self.latest[config_id]
            if entry[1] != "delete":
                yield Drift(config_id, int(entry[0]), f"{_name(entry[2:5])} (config #{config_id}) is gone, but its "
                            f"latest history row #{entry[0]} ({entry[1]}) does not record its deletion")  # fmt: skip

    def _drift(self, config_id: int, live: tuple, entry: tuple | None) -> Drift | None:
        name = _name(live)
        if entry is None and self.partial:
            return None
        if entry is None:
            return Drift(config_id, None, f"{name} (config #{config_id}) has no history row: written outside the "
                         "trigger")  # fmt: skip
        history_id, action = int(entry[0]), entry[1]
        if action == "delete":
            return Drift(config_id, history_id, f"{name} (config #{config_id}) exists, but its latest history row "
                         f"#{history_id} records its deletion")  # fmt: skip
        activity = self.activity.get(config_id, "unknown" if self.partial else None)
        differs = _differences(live, entry[2:], activity)
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
    if history_value(value, _flag(r_secret)) != r_value:
        differs.append("value")
    if value_type != r_type:
        differs.append("type")
    if bool(encrypted) != _flag(r_encrypted):
        differs.append("encryption")
    if activity != "unknown" and bool(active) != (activity != "deactivate"):
        differs.append("active")
    return differs


def _flag(value) -> bool:
    """A flag as the walk read it: PostgreSQL's normalised text ('true'), SQLite's 0/1, or a boolean."""
    return value in (True, 1, "true")


def _name(values: tuple) -> str:
    return f"{values[0]}.{values[1]} ({values[2]})"
