"""Writers of the same category in the same environment, one at a time, until their transaction ends.

Row locks (SELECT ... FOR UPDATE) cannot serialise the creation of a row that does not exist yet, nor make a
reader see a row another transaction is about to commit. So every write path takes this lock before it reads
the rows it will write: on PostgreSQL a transaction-level advisory lock per (category, environment), in a fixed
order (no deadlock between two writers of several categories); on SQLite, which has one writer at a time
anyway, the database's write lock. The second of two concurrent creates then sees the first's row and updates
it; the editor's stale-save check sees every key the other save added.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db import connection


def lock_categories(pairs: Iterable[tuple[str, str]]) -> None:
    """Hold the write lock of every (category, environment) until the current transaction ends."""
    held = _held()
    keys = sorted({_key(category, environment) for category, environment in pairs} - held)
    if not keys:
        return
    held.update(keys)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k ORDER BY k", [keys])
        else:
            # A write takes SQLite's (database-wide) write lock now, before anything is read.
            cursor.execute("UPDATE configuration_change_counter SET value = value WHERE id = 1")


def _held() -> set[int]:
    """The keys this transaction already holds (they are released only when it ends), so none is taken twice."""
    outermost = connection.atomic_blocks[0] if connection.atomic_blocks else None
    record = getattr(connection, "_configurations_locks", None)
    if record is None or record[0] is not outermost:
        record = connection._configurations_locks = (outermost, set())
    return record[1]


def _key(category: str, environment: str) -> int:
    digest = hashlib.sha256(f"configurations:{category}\x1f{environment}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
