"""Bulk import against a bare set-based INSERT of the same rows, rounds interleaved (issue 24).

- import: ``services.import_records`` of 10,000 new keys (validation, types, the review gate, the history row of each
  key in the hash chain), one transaction;
- floor: one ``INSERT INTO system_configurations ... SELECT * FROM unnest(...)`` of the same 10,000 rows, committed
  (the table's triggers fire: they write the history);
- and the same INSERT into a copy of the table without triggers (PostgreSQL): what the rows alone cost, so that the
  history's share shows.

Keys per second, min/median/max over interleaved rounds, and the median of each round's ratio.
"""

from __future__ import annotations

import statistics
import time

KEYS = 10_000
ROUNDS = 3


def _records(prefix: str):
    from configurations.core import formats

    return [formats.Record(f"{prefix}{i % 10}", f"key_{i:05d}", "production", f"value {i}", where=f"bench:{i}")
            for i in range(KEYS)]  # fmt: skip


def _bare(prefix: str, table: str = "system_configurations") -> float:
    from django.db import connection, transaction

    columns = [[f"{prefix}{i % 10}" for i in range(KEYS)], [f"key_{i:05d}" for i in range(KEYS)],
               ["production"] * KEYS, [f"value {i}" for i in range(KEYS)]]  # fmt: skip
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} (category, config_key, environment, config_value) "
                "SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::text[])",
                columns,
            )
        else:
            cursor.executemany(
                "INSERT INTO system_configurations (category, config_key, environment, config_value, value_type, "
                "is_encrypted, is_active) VALUES (%s, %s, %s, %s, 'string', 0, 1)",
                list(zip(*columns, strict=True)),
            )
    return KEYS / (time.perf_counter() - start)


def _ours(prefix: str) -> float:
    from configurations import services

    records = _records(prefix)
    start = time.perf_counter()
    services.import_records(records, reason="bench")
    return KEYS / (time.perf_counter() - start)


def run() -> dict[str, float]:
    from django.db import connection

    plain = []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE bench_rows (LIKE system_configurations INCLUDING ALL)")
    ours, bare = [], []
    for round_ in range(ROUNDS):
        ours.append(_ours(f"imp{round_}_"))
        bare.append(_bare(f"raw{round_}_"))
        if connection.vendor == "postgresql":
            plain.append(_bare(f"plain{round_}_", "bench_rows"))
    ratios = [o / b for o, b in zip(ours, bare, strict=True)]
    extra = {}
    if plain:
        extra = {
            "INSERT without triggers median (keys/s)": statistics.median(plain),
            "import / INSERT without triggers (median of rounds)": statistics.median(
                o / p for o, p in zip(ours, plain, strict=True)
            ),
            "bare INSERT with triggers / without (median)": statistics.median(
                b / p for b, p in zip(bare, plain, strict=True)
            ),
        }
    return {
        **extra,
        "keys": KEYS,
        "import min (keys/s)": min(ours),
        "import median (keys/s)": statistics.median(ours),
        "import max (keys/s)": max(ours),
        "bare INSERT min (keys/s)": min(bare),
        "bare INSERT median (keys/s)": statistics.median(bare),
        "bare INSERT max (keys/s)": max(bare),
        "import / bare INSERT (median of rounds)": statistics.median(ratios),
    }
