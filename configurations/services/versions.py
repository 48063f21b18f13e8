"""A category's version, and the one stale-save check of the admin's editor and the API's If-Match.

A category's version in an environment is its newest history id there: every write that changes one of its rows
(a key added, changed, deactivated or deleted) writes a history row, so the version moves exactly when the
category does. The runtime's snapshots count the same way (``Snapshot.category_version``).
"""

from __future__ import annotations

from collections.abc import Collection

from django.db import connection


class StaleVersion(Exception):
    """The category changed after the version the client read (the admin answers 409, the API 412)."""


_VERSION_SQL = "SELECT MAX(id) FROM configuration_history WHERE environment = %s AND category = %s"


def category_version(environment: str, category: str) -> int:
    """The category's newest history id in the environment (index idx_confhist_env_category_id); 0 if none."""
    with connection.cursor() as cursor:  # raw: a write's answer reads it, and the ORM's compilation cost more
        cursor.execute(*version_query(environment, category))
        return version_of(cursor.fetchall())


def version_query(environment: str, category: str) -> tuple[str, list]:
    """The SQL and parameters that read the category's version (``version_of`` its rows): a write may run it in its
    own round trip (``changes.write_plans(then=...)``). On PostgreSQL the same query in a function, planned once per
    connection (29 history partitions make planning it cost more than running it)."""
    if connection.vendor == "postgresql":
        return "SELECT config_category_version(%s, %s)", [environment, category]
    return _VERSION_SQL, [environment, category]


# After this transaction wrote rows of one category alone, the history's head holds its newest history id: the head's
# row was last written by this transaction's trigger (its xmin), which keeps it locked until the commit. Else (nothing
# written, or outside a transaction) the category's version as ``version_query`` reads it.
_AFTER_WRITE_SQL = (
    "SELECT COALESCE((SELECT h.last_id FROM configuration_history_head h "
    "WHERE h.id = 1 AND h.xmin = pg_current_xact_id_if_assigned()::xid), config_category_version(%s, %s))"
)


def version_after_write_query(environment: str, category: str) -> tuple[str, list]:
    """Like ``version_query``, for a write of rows of this category alone (or before it): on PostgreSQL, once the write
    wrote history, the chain's head instead of every history partition's index (0.46 ms a PUT)."""
    if connection.vendor == "postgresql":
        return _AFTER_WRITE_SQL, [environment, category]
    return version_query(environment, category)


def version_of(rows: list[tuple]) -> int:
    """The version read by ``version_query``."""
    return rows[0][0] or 0


def check_version(
    environment: str, category: str, expected: Collection[int] | None, *, current: int | None = None
) -> None:
    """Raise StaleVersion unless the category's version is one of ``expected`` (None: no condition).

    Call it with the category's write lock held, so that no write lands between the check and the save;
    ``current`` is the version the caller already read under that lock (saves reading it again).
    """
    if expected is None:
        return
    if (current if current is not None else category_version(environment, category)) not in expected:
        raise StaleVersion
