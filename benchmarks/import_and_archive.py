"""Import 10,000 keys from JSON (validation and history included), and archive 1,000,000 history rows (on
PostgreSQL one month partition archived whole; on SQLite rows moved in batches)."""

from __future__ import annotations

import json
import tempfile
import time
from io import StringIO
from pathlib import Path

KEYS = 10_000
HISTORY_ROWS = 1_000_000


def _import_file(directory: Path) -> Path:
    tree = {"production": {}}
    for i in range(KEYS):
        tree["production"].setdefault(f"bench{i % 10}", {})[f"key_{i:05d}"] = f"value {i}"
    path = directory / "bench.json"
    path.write_text(json.dumps(tree))
    return path


def _seed_old_history() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            series, stamp = f"generate_series(1, {HISTORY_ROWS}) AS n", "now() - interval '3 years'"
        else:
            recursive = f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {HISTORY_ROWS})"
            series = f"({recursive} SELECT n FROM s)"
            stamp = "strftime('%Y-%m-%d %H:%M:%f000', 'now', '-3 years')"
        cursor.execute(
            f"""INSERT INTO configuration_history (config_id, old_value, new_value, created_at, category, config_key,
                                                  environment, action)
                SELECT n % 10000, 'a', 'b', {stamp}, 'bench', 'k', 'production', 'update' FROM {series}"""
        )


def run() -> dict[str, float]:
    from django.core.management import call_command

    from configurations import services
    from configurations.models import ConfigurationHistory, ConfigurationHistoryArchive, HistoryArchive
    from configurations.services import partitions

    with tempfile.TemporaryDirectory() as directory:
        path = _import_file(Path(directory))
        start = time.perf_counter()
        call_command("import_configs", str(path), stdout=StringIO(), stderr=StringIO())
        imported = time.perf_counter() - start
        start = time.perf_counter()
        call_command("import_configs", str(path), stdout=StringIO(), stderr=StringIO())
        reimported = time.perf_counter() - start
    assert ConfigurationHistory.objects.filter(action="create").count() == KEYS

    ConfigurationHistory.objects.all().delete()
    _seed_old_history()
    partitions.ensure_partitions()  # PostgreSQL: the rows' month gets its partition (untimed); SQLite: nothing
    start = time.perf_counter()
    report = services.archive_history(older_than_days=730, batch_size=10_000)
    archived = time.perf_counter() - start
    kept = HistoryArchive.objects.get().row_count if report.partitions else ConfigurationHistoryArchive.objects.count()
    assert report.moved == HISTORY_ROWS == kept
    return {
        "keys": KEYS,
        "import from JSON (keys/s)": KEYS / imported,
        "re-import, nothing changes (keys/s)": KEYS / reimported,
        "history rows archived": HISTORY_ROWS,
        # PostgreSQL: the month's partition archived whole (history_partitions has the peer figures); SQLite: rows.
        "archive (rows/s)": HISTORY_ROWS / archived,
    }
