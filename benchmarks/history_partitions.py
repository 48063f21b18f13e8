"""The history partitioned by month (PostgreSQL), at HISTORY_PARTITION_ROWS rows (default 1,000,000; the figures in
docs/performance.md were also taken at 10,000,000) spread evenly over 24 months, every row chained.

Measured in one run, each against its peer or floor:

- the conversion migration (0025) of the populated table, against a bare ``CREATE TABLE AS`` copy of the same rows;
- history pages (first and a deep keyset page; everything, one key, one category) on the partitioned table, against
  the same pages on the unpartitioned table before the conversion;
- archiving one month: whole (checkpoint, detach) against the row-by-row move of the next month's rows
  (``config_archive_history``, the way before partitions), and what a SHA-256 over the month's rows would add;
- verify_history's throughput, against a bare read of the same rows.
"""

from __future__ import annotations

import datetime
import os
import time

from benchmarks import harness

ROWS = int(os.environ.get("HISTORY_PARTITION_ROWS", "1000000"))
MONTHS = 24
CONFIGS = 1000  # config ids 1..1000, over 20 categories
ROUNDS = 15
_KEY_INDEX = "(environment, category, config_key, created_at DESC)"  # idx_confhist_key_created (migration 0026)
_COLUMNS = ("id", "config_id", "old_value", "new_value", "created_at", "category", "config_key", "environment",
            "action", "old_value_type", "new_value_type", "prev_hash", "row_hash")  # fmt: skip


def _rows(start: datetime.datetime, step: datetime.timedelta):
    """Every row with its chain link, built the way chain.content_of_texts writes them (fast enough for 10M)."""
    from configurations.data import chain

    previous = None
    for n in range(1, ROWS + 1):
        config = n % CONFIGS + 1
        created = start + step * n
        micros = (created - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)) // datetime.timedelta(microseconds=1)
        texts = (n, str(config), f"old {n}", f"new {n}", None, None, None, None, str(micros), f"cat{config % 20:02d}",
                 f"key_{config:04d}", "production", "update", "string", "string", None, None, None)  # fmt: skip
        link = chain.chain_hash(previous, chain.content_of_texts(texts))
        yield (n, config, texts[2], texts[3], created, texts[9], texts[10], "production", "update", "string",
               "string", previous, link)  # fmt: skip
        previous = link


def _seed() -> None:
    from django.db import connection

    now = datetime.datetime.now(datetime.UTC)
    first = (now.replace(day=1) - datetime.timedelta(days=MONTHS * 31)).replace(day=1, hour=0, minute=0, second=0)
    step = (now - first) / (ROWS + 1)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE configuration_history")
        with cursor.cursor.copy(f"COPY configuration_history ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            last = None
            for row in _rows(first, step):
                copy.write_row(row)
                last = row
        cursor.execute("UPDATE configuration_history_head SET last_id = %s, last_hash = %s", [last[0], last[-1]])
        cursor.execute("SELECT setval(pg_get_serial_sequence('configuration_history', 'id'), %s)", [ROWS])
        cursor.execute("ANALYZE configuration_history")


def _pages() -> dict[str, tuple]:
    """The six pages measured: (filters, cursor) for the first and a deep page of each filter."""
    from configurations.models import ConfigurationHistory
    from configurations.services import history

    middle = ConfigurationHistory.objects.get(pk=ROWS // 2)
    filters = {
        "everything": history.HistoryFilters(),
        "one key": history.HistoryFilters(category=middle.category, key=middle.config_key, environment="production"),
        "one category": history.HistoryFilters(category=middle.category, environment="production"),
    }
    return {name: (found, history._cursor(middle)) for name, found in filters.items()}


def _page_times(pages: dict[str, tuple]) -> dict[str, float]:
    from configurations.services import history

    found = {}
    for name, (filters, cursor) in pages.items():
        found[f"{name}, first page"] = harness.warm_median_ms(lambda f=filters: history.page(f), rounds=ROUNDS)
        found[f"{name}, deep page"] = harness.warm_median_ms(
            lambda f=filters, c=cursor: history.page(f, before=c), rounds=ROUNDS
        )
    return found


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _sql(statement: str, params=()):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


def _archive_figures() -> dict[str, float]:
    from configurations.services import partitions

    oldest, following = [p for p in partitions.partitions() if not p.is_default and p.rows][:2]
    read_once = _seconds(
        lambda: _sql(  # what a digest over the rows would cost: the checkpoint does without it
            f"SELECT encode(sha256(convert_to(string_agg(row_hash, '' ORDER BY id), 'UTF8')), 'hex') FROM {oldest.name}"
        )
    )
    whole = _seconds(lambda: partitions.archive_partition(oldest.name, following.end))
    last_id = _sql(f"SELECT max(id) FROM {following.name}")[0][0]
    by_rows = _seconds(lambda: _sql("SELECT config_archive_history(%s, %s)", [following.end, last_id]))
    return {
        "rows in the month archived": oldest.rows,
        "archive one month whole (s)": whole,
        "a digest over the month's rows, not taken (s)": read_once,
        f"archive the next month ({following.rows} rows) row by row (s)": by_rows,
        "row by row / whole": by_rows / whole,
    }


def _verify_figures() -> dict[str, float]:
    from configurations import services
    from configurations.data import chain

    rows = _sql("SELECT count(*) FROM configuration_history")[0][0]
    bare = _seconds(lambda: _sql(f"SELECT count(*) FROM (SELECT {chain.NORMALISED_SQL} FROM configuration_history) t"))
    verify = _seconds(lambda: services.verify_history())
    return {"verify (rows/s)": rows / verify, "verify / a bare read of the same rows": verify / bare}


def run() -> dict[str, float]:
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        return {"PostgreSQL only: SQLite keeps one history table": 0}
    call_command("migrate", "configurations", "0024", verbosity=0)
    _seed()
    pages = _pages()
    _sql(f"CREATE INDEX bench_key ON configuration_history {_KEY_INDEX}")  # what 0026 adds, so that only
    before = _page_times(pages)  # partitioning differs between the two measurements
    _sql("DROP INDEX bench_key")
    copy = _seconds(lambda: _sql("CREATE TABLE bench_copy AS SELECT * FROM configuration_history"))
    _sql("DROP TABLE bench_copy")
    conversion = _seconds(lambda: call_command("migrate", "configurations", "0025", verbosity=0))
    call_command("migrate", "configurations", verbosity=0)
    after = _page_times(pages)
    found: dict[str, float] = {"history rows": ROWS, "conversion migration at this size (s)": conversion,
                               "conversion / a bare copy of the rows": conversion / copy}  # fmt: skip
    for name, milliseconds in after.items():
        found[f"{name} (ms)"] = milliseconds
        found[f"{name}, partitioned / one table"] = milliseconds / before[name]
    return {**found, **_verify_figures(), **_archive_figures()}
