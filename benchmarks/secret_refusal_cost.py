"""Cost of the database's refusal of plaintext secrets (migration 0017) on a bulk write of 10,000 rows.

The same statements run with every trigger on, alternating with the refusal triggers alone switched off, in one
process against one freshly migrated database: the ratio is what the refusal adds to an audited bulk write. The
rows' names match no secret pattern (the common case: the check looks, finds nothing, lets the statement pass).
On PostgreSQL since migration 0034 an UPDATE's refusal is a column of the history trigger's own query, which cannot
be switched off alone: there the ratio is the INSERT's refusal only.
"""

from __future__ import annotations

import functools

ROWS = 10_000
ROUNDS = 7
PG_TRIGGERS = ("system_configurations_secrets_insert",)
SQLITE_TRIGGERS = tuple(
    f"system_configurations_secrets_{check}_{event}"
    for check in ("plaintext", "envelope")
    for event in ("insert", "update")
)


def _refusal(enabled: bool) -> None:
    from django.db import connection

    from configurations.data import installation

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for name in PG_TRIGGERS:
                cursor.execute(f"ALTER TABLE system_configurations {'ENABLE' if enabled else 'DISABLE'} TRIGGER {name}")
        elif enabled:
            installation.reinstall_sqlite_triggers()
        else:
            for name in SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def _insert_then_update(round_: int) -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM system_configurations WHERE category = 'bench'")
        values = ", ".join(f"('bench', 'key_{i:05d}', '{round_}', 'test')" for i in range(ROWS))
        cursor.execute(
            f"INSERT INTO system_configurations (category, config_key, config_value, environment) VALUES {values}"
        )
        cursor.execute("UPDATE system_configurations SET config_value = config_value || 'x' WHERE category = 'bench'")
        assert cursor.rowcount == ROWS


def run() -> dict[str, float]:
    from .harness import median_ms, timed

    with_refusal, without_refusal = [], []
    for round_ in range(ROUNDS):
        _refusal(False)
        write = functools.partial(_insert_then_update, round_)
        without_refusal += timed(write, rounds=1)
        _refusal(True)
        with_refusal += timed(write, rounds=1)
    return {
        "rows inserted, then updated": ROWS,
        "audited, refusal off (ms)": median_ms(without_refusal),
        "audited, refusal on (ms)": median_ms(with_refusal),
        "ratio": median_ms(with_refusal) / median_ms(without_refusal),
    }
