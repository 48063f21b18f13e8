"""Refresh cost at 100,000 active keys: 4 reader processes, 100 single-key changes, visibility p50/p99.

Also: one full load of the 100,000 keys in-process (what every change cost before deltas), one delta, and a
reader's resident memory for the snapshot (RSS after its first read minus before).
"""

from __future__ import annotations

import statistics
import time

from django.utils import timezone

from .runtime_freshness import _delays, _percentile, _start_reader

KEYS = 100_000
READERS = 4
CHANGES = 100
SPACING = 0.05
ENV = "test"


def _fill() -> float:
    """100,000 rows in one INSERT ... SELECT (through the triggers: history and chain included)."""
    from django.db import connection

    from configurations.data.audit import audit_context

    if connection.vendor == "postgresql":
        numbers = f"SELECT i FROM generate_series(0, {KEYS - 1}) AS g(i)"
        category, key = "'cat' || lpad((i %% 100)::text, 2, '0')", "'key' || lpad(i::text, 6, '0')"
    else:
        numbers = (
            f"WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < {KEYS - 1}) SELECT i FROM g"
        )
        category, key = "printf('cat%%02d', i %% 100)", "printf('key%%06d', i)"
    started = time.perf_counter()
    with audit_context(reason="benchmark fill"), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO system_configurations (category, config_key, environment, config_value, value_type, "
            "is_encrypted, is_active, created_at, updated_at) "
            f"SELECT {category}, {key}, %s, CAST(i AS TEXT), 'number', %s, %s, %s, %s FROM ({numbers}) AS n",
            [ENV, False, True, timezone.now(), timezone.now()],
        )
    return time.perf_counter() - started


def run() -> dict[str, float]:
    from configurations import runtime, services
    from configurations.runtime import snapshots

    fill_seconds = _fill()
    services.set_value(category="runtime", key="probe", environment=ENV, value="v-initial")
    started = time.perf_counter()
    runtime.reload(ENV)
    full_load_ms = (time.perf_counter() - started) * 1000
    services.set_value(category="cat07", key="key000007", environment=ENV, value="70", value_type="number")
    started = time.perf_counter()
    snapshots.refresh(runtime._django_query, [ENV])
    delta_ms = (time.perf_counter() - started) * 1000
    assert runtime.get("cat07", "key000007", environment=ENV) == 70

    readers = [_start_reader("--memory") for _ in range(READERS)]
    deadline = time.monotonic() + 120
    while not all(any(line.startswith("v-initial ") for line in lines) for _, lines in readers):
        assert time.monotonic() < deadline, "readers did not start"
        time.sleep(0.01)
    rss = [next(line for line in lines if line.startswith("rss ")).split() for _, lines in readers]
    snapshot_mb = statistics.median((int(after) - int(before)) / 1e6 for _, before, after in rss)
    written = {}
    for i in range(CHANGES):
        services.set_value(category="runtime", key="probe", environment=ENV, value=f"v{i}")
        written[f"v{i}"] = time.monotonic()
        time.sleep(SPACING)
    services.set_value(category="runtime", key="probe", environment=ENV, value="stop")
    delays = []
    for process, lines in readers:
        process.wait(timeout=60)
        delays += _delays([line for line in lines if not line.startswith("rss ")], written)
    return {
        "active keys": KEYS + 1,
        "fill (s)": fill_seconds,
        "full load in-process (ms)": full_load_ms,
        "one delta in-process (ms)": delta_ms,
        "reader snapshot RSS per 100k keys (MB)": snapshot_mb,
        "readers": READERS,
        "changes": CHANGES,
        "visibility delay p50 (ms)": statistics.median(delays),
        "visibility delay p99 (ms)": _percentile(delays, 0.99),
        "visibility delay max (ms)": max(delays),
    }
