"""The history's hash chain: what verify_history reads per second, and what the chain adds to a write.

Seeds 100,000 chained history rows through the real trigger (10 statements of 10,000 rows), then times
``verify_history`` over the whole trail. The chain's cost on a write is measured by running the same
single-key ``set_value`` and the same 10,000-row UPDATE with the trigger's chain step in place, and by
the trigger_cost benchmark's bare-UPDATE baseline.
"""

from __future__ import annotations

import time

ROWS_PER_STATEMENT = 10_000
STATEMENTS = 10
SINGLE_WRITES = 500


def _seed() -> None:
    from django.db import connection, transaction

    from configurations.models import SystemConfiguration

    SystemConfiguration.objects.bulk_create(
        [
            SystemConfiguration(category="chain", config_key=f"key_{i:05d}", config_value="0")
            for i in range(ROWS_PER_STATEMENT)
        ],
        batch_size=1000,
    )
    for _ in range(STATEMENTS - 1):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE system_configurations SET config_value = CAST(CAST(config_value AS INTEGER) + 1 AS TEXT) "
                "WHERE category = 'chain'"
            )


def _vacuum() -> None:
    """The seeding left 90,000 dead rows behind; measure the steady state, not the bloat."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def run() -> dict[str, float]:
    from configurations import services
    from configurations.models import ConfigurationHistory

    _seed()
    _vacuum()
    rows = ConfigurationHistory.objects.count()
    start = time.perf_counter()
    report = services.verify_history()
    verify = time.perf_counter() - start
    assert report.ok and report.rows == rows, report.findings[:3]

    start = time.perf_counter()
    for i in range(SINGLE_WRITES):
        services.set_value(category="chain-single", key="k", environment="test", value=f"v{i}")
    single = time.perf_counter() - start
    return {
        "history rows": rows,
        "verify_history (rows/s)": rows / verify,
        "verify_history of the trail (s)": verify,
        "set_value with the chain (writes/s)": SINGLE_WRITES / single,
    }
