"""The history's monthly partitions (PostgreSQL): listed, created ahead, archived whole behind a checkpoint.

The SQL that does the work is in data/triggers/partitions.py (SECURITY DEFINER functions, so the application role
can run all of this without any right on the history's rows). On SQLite, and on a PostgreSQL history that is not
partitioned, ``is_partitioned()`` is False and the callers keep to one table.
"""

from __future__ import annotations

import dataclasses
import datetime

from django.db import connection, transaction

from ..data.models import HistoryArchive

DEFAULT_PARTITION = "configuration_history_default"
AHEAD = 3  # months created ahead by history_partitions and make serve
_LOCK_TIMEOUT = "5s"  # a detach waits this long for readers of the history, then fails (run it again)

_PARTITIONS_SQL = """
SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), pg_total_relation_size(c.oid)
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'configuration_history'::regclass
"""
_ROWS_SQL = "SELECT tableoid::regclass::text, count(*) FROM configuration_history GROUP BY 1"
_DEFAULT_MONTHS_SQL = (
    f"SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC')::date FROM {DEFAULT_PARTITION} ORDER BY 1"
)


@dataclasses.dataclass(frozen=True)
class Partition:
    """One partition of the history: its month's range (None for the default partition), rows and bytes."""

    name: str
    start: datetime.datetime | None
    end: datetime.datetime | None
    rows: int
    size: int

    @property
    def is_default(self) -> bool:
        """Whether this is the default partition (rows outside every month's range)."""
        return self.start is None


def is_partitioned() -> bool:
    """Whether configuration_history is a partitioned table (PostgreSQL after migration 0025)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass('public.configuration_history')")
        row = cursor.fetchone()
    return bool(row and row[0])


def partitions(*, count_rows: bool = True) -> list[Partition]:
    """Every partition, oldest month first and the default last, with exact row counts (one scan) and sizes."""
    with connection.cursor() as cursor:
        cursor.execute(_PARTITIONS_SQL)
        found = cursor.fetchall()
        rows: dict[str, int] = {}
        if count_rows:
            cursor.execute(_ROWS_SQL)
            rows = dict(cursor.fetchall())
    listed = [Partition(name, *_bounds(bound), rows.get(name, 0), size) for name, bound, size in found]
    far = datetime.datetime.max.replace(tzinfo=datetime.UTC)
    return sorted(listed, key=lambda p: (p.is_default, p.start or far))


def _bounds(bound: str) -> tuple[datetime.datetime | None, datetime.datetime | None]:
    if bound == "DEFAULT":
        return None, None
    start, end = (datetime.datetime.fromisoformat(part.split("'")[1]) for part in bound.split(" TO "))
    return start, end


def default_rows() -> int | None:
    """Rows the default partition holds (they belong to no month's partition), or None if not partitioned."""
    if not is_partitioned():
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {DEFAULT_PARTITION}")
        return cursor.fetchone()[0]


def default_rows_before(cutoff: datetime.datetime) -> int:
    """Rows of the default partition in months that end before the cutoff (archiving moves them out first)."""
    month_start = cutoff.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {DEFAULT_PARTITION} WHERE created_at < %s", [month_start])
        return cursor.fetchone()[0]


def months_ahead(today: datetime.date, ahead: int) -> list[datetime.date]:
    """The first day of this month and of each of the ``ahead`` months after it."""
    first = today.replace(day=1)
    return [add_months(first, n) for n in range(ahead + 1)]


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The first day of the month ``months`` after (or, negative, before) ``day``'s."""
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def ensure_partitions(*, ahead: int = AHEAD, today: datetime.date | None = None) -> list[str]:
    """Create the partitions missing for this month and ``ahead`` months after it, and for every month of which the
    default partition holds rows (they move into it). Idempotent; returns the names created."""
    if not is_partitioned():
        return []
    today = today or datetime.datetime.now(datetime.UTC).date()
    created = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_DEFAULT_MONTHS_SQL)
        caught = [row[0] for row in cursor.fetchall()]
        for month in sorted({*months_ahead(today, ahead), *caught}):
            cursor.execute("SELECT config_history_partition(%s)", [month])
            if cursor.fetchone()[0]:
                created.append(f"configuration_history_{month:%Y_%m}")
    if caught:
        _vacuum_default()
    return created


def _vacuum_default() -> None:
    """Rows moved out of the default partition leave dead tuples there that every query not pruned away from it
    steps over until autovacuum comes (at 500,000 moved rows a history page took 190 ms instead of 7): vacuum it
    now. Only its owner may, and never inside a transaction: otherwise autovacuum does it later."""
    if connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = %s::regclass", [DEFAULT_PARTITION]
        )
        if cursor.fetchone()[0]:
            cursor.execute(f"VACUUM (ANALYZE) {DEFAULT_PARTITION}")


def archivable(cutoff: datetime.datetime, *, count_rows: bool = False) -> list[Partition]:
    """The month partitions that end at or before the cutoff: whole months older than it, oldest first (with
    ``count_rows``, each counted on its own: never a count of the whole history)."""
    due = [p for p in partitions(count_rows=False) if not p.is_default and p.end <= cutoff]
    if not count_rows:
        return due
    with connection.cursor() as cursor:
        counted = []
        for partition in due:
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(partition.name)}")
            counted.append(dataclasses.replace(partition, rows=cursor.fetchone()[0]))
    return counted


def archive_partition(name: str, cutoff: datetime.datetime) -> HistoryArchive | None:
    """Checkpoint, detach and rename one partition ``configuration_history_archived_YYYY_MM``, in one transaction
    (None: it was empty and was dropped)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
        cursor.execute("SELECT config_history_archive_partition(%s, %s)", [name, cutoff])
        checkpoint = cursor.fetchone()[0]
    return None if checkpoint is None else HistoryArchive.objects.get(checkpoint_id=checkpoint)
