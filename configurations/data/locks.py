"""Writers of the same category in the same environment, one at a time, until their transaction ends.

Row locks (SELECT ... FOR UPDATE) cannot serialise the creation of a row that does not exist yet, nor make a
reader see a row another transaction is about to commit. So every write path takes this lock before it reads
the rows it will write: on PostgreSQL a transaction-level advisory lock per (category, environment), in a fixed
order (no deadlock between two writers of several categories); on SQLite, which has one writer at a time
anyway, the database's write lock. The second of two concurrent creates then sees the first's row and updates
it; the editor's stale-save check sees every key the other save added.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from typing import NamedTuple

from django.db import connection

from . import audit


def lock_categories(pairs: Iterable[tuple[str, str]]) -> None:
    """Hold the write lock of every (category, environment) until the current transaction ends.

    On PostgreSQL the same statement sets a deferred audit context (data/audit.py) and reads the review policies of
    the environments locked (``review_policies``): one round trip for what every write needs before it reads.
    """
    if connection.vendor != "postgresql":
        _lock_sqlite(pairs)
        return
    statement = lock_statement(pairs)
    if statement is None:
        return
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, statement.params)
        statement.took(cursor.fetchall())


class LockStatement(NamedTuple):
    """The statement that takes a transaction's category locks, and the environments whose policies it reads."""

    sql: str
    params: list
    environments: list[str]

    def took(self, rows: list[tuple]) -> None:
        """Record what the statement read: the review policies of the environments it locked."""
        found = rows[-1][-1]
        policies = json.loads(found) if isinstance(found, str) else found
        _policies().update({environment: int(policies.get(environment, 0)) for environment in self.environments})


def lock_statement(pairs: Iterable[tuple[str, str]]) -> LockStatement | None:
    """PostgreSQL: the statement that takes the locks this transaction does not hold yet (None: it holds them all,
    and a deferred audit context is set now instead); run it, then give its ``took`` the rows."""
    pairs = set(pairs)
    held = _held()
    keys = sorted({key_of(category, environment) for category, environment in pairs} - held)
    if not keys:
        audit.flush()
        return None
    held.update(keys)
    environments = sorted({environment for _, environment in pairs})
    deferred = audit.take_deferred()
    context_sql, context_params = audit.set_config_sql(deferred, connection.vendor) if deferred else ("", [])
    sql = (
        f"SELECT {context_sql + ', ' if context_sql else ''}pg_advisory_xact_lock(k), ({_POLICIES}) "
        "FROM unnest(%s::bigint[]) AS k ORDER BY k"
    )
    return LockStatement(sql, [*context_params, environments, keys], environments)


def forget_policies() -> None:
    """This transaction changed a review policy: the policies its locks read no longer hold."""
    _policies().clear()


def _lock_sqlite(pairs: Iterable[tuple[str, str]]) -> None:
    held = _held()
    keys = {key_of(category, environment) for category, environment in pairs} - held
    audit.flush()
    if keys:
        held.update(keys)
        with connection.cursor() as cursor:
            # A write takes SQLite's (database-wide) write lock now, before anything is read.
            cursor.execute("UPDATE configuration_change_counter SET value = value WHERE id = 1")


# The environments' required approvals, read in the lock's statement (the locks do not guard the policies: see
# ``_policies``).
_POLICIES = (
    "SELECT COALESCE(json_object_agg(environment, required_approvals), '{}'::json) "
    "FROM configuration_review_policies WHERE environment = ANY(%s::varchar[])"
)


def review_policies(environments: Iterable[str]) -> dict[str, int] | None:
    """The required approvals of ``environments`` as this transaction's category lock read them, or None when it did
    not read them all (SQLite, or no lock taken for one of them): then ask the table."""
    known = _policies()
    wanted = set(environments)
    if not wanted <= set(known):
        return None
    return {environment: known[environment] for environment in wanted}


def _held() -> set[int]:
    """The keys this transaction already holds (they are released only when it ends), so none is taken twice."""
    return _of_this_transaction("_configurations_locks", set)


def _policies() -> dict[str, int]:
    """The policies read with this transaction's locks (one committed after that statement rules from the next write
    on, as one committed a moment after a write would)."""
    return _of_this_transaction("_configurations_policies", dict)


def _of_this_transaction(name: str, empty):
    outermost = connection.atomic_blocks[0] if connection.atomic_blocks else None
    record = getattr(connection, name, None)
    if record is None or record[0] is not outermost:
        record = (outermost, empty())
        setattr(connection, name, record)
    return record[1]


@functools.lru_cache(maxsize=4096)
def key_of(category: str, environment: str) -> int:
    """The advisory lock's key of a (category, environment): 64 bits of a SHA-256 of the pair."""
    digest = hashlib.sha256(f"configurations:{category}\x1f{environment}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
