"""A write of its own in one or two round trips (PostgreSQL): read without a lock, then write under the lock only if
nothing that was read has changed.

The locked write (data/locks.py, ``bulk.read_for_write``) costs four round trips: BEGIN, the lock with the reads, the
write, COMMIT. Here the reads travel alone and outside any transaction; the caller validates in Python; then one
message is the whole transaction: ``config_write_or_read`` (data/triggers/hot_path.py) sets the audit context, takes
the category locks, and writes the rows only where each one's version (``xmin``) is still the one read (or, for a
row written active and in the clear, marked loose, where the row is still active, in the clear, of the type written
and of another value than the one written: whatever value another writer left, the plan made on what was read is then
the one a fresh read would give; a secret's sameness needs its plaintext, so it is written only at the version
read), the keys' metadata is still the one read, no review policy protects the environments, and
the caller's condition (the API's ``If-Match``) holds. Where a row or the metadata changed otherwise, it writes
nothing and answers what is there now, read under its locks: ``write`` gives that back as a ``Read`` to plan on
again, so a guess that was wrong costs no more than reading first. Where a policy or the condition stands in the
way, ``write`` answers None and the caller takes the locked path, which decides. Being a function, its statements are
planned once per connection, not on every write; the statement that calls it is prepared once per connection too
(``EXECUTE``). The triggers are the table's: history, chain, outbox and NOTIFY are written as on every path.

What the process last read or wrote of a key is remembered with its versions (data/write_memory.py): the next write
of the key may skip the read (``recall``), one round trip in all.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import uuid
import weakref

from django.db import DatabaseError, ProgrammingError, connection

from .. import conf
from . import audit, bulk, locks, write_memory
from .models import ConfigurationMetadata, SystemConfiguration

UNDEFINED_FUNCTION = "42883"  # a database below migration 0029 (the read) or 0032 (the write)
STALE = "CF001"  # config_write_or_read's SQLSTATE: a row changed as it was written (by a writer without the lock)


def _fields(model, composite: str) -> str:
    return ", ".join(f"({composite}).{connection.ops.quote_name(f.column)}" for f in model._meta.concrete_fields)


_ROW_FIELDS = len(SystemConfiguration._meta.concrete_fields)


def _read_columns() -> str:
    """What ``config_read_for_write`` answers, as columns of ``f``: the row's fields, its version, the metadata's
    fields, theirs."""
    row, meta = _fields(SystemConfiguration, "f.item"), _fields(ConfigurationMetadata, "f.meta")
    return f"{row}, f.item_seen, {meta}, f.meta_seen"


@functools.cache
def _read_sql() -> str:
    return f"SELECT {_read_columns()} FROM config_read_for_write(%s::varchar[], %s::varchar[], %s::varchar[]) AS f"


# The write answers, first, why it wrote nothing (NULL: it wrote), the rows written, their new version (the
# transaction's id, their xmin), the history's head (after the write, or before what it read instead) and the version
# of the category asked for (migration 0032); then what it read instead, each row and its metadata as JSON (nine
# columns, not the 31 of their fields: describing and loading those cost a write 5 %, though a write that lands
# answers none of them). Prepared once per connection under the function's name (CONFIG_DB_PREPARE): each write then
# EXECUTEs it, and PostgreSQL neither parses nor plans the statement again.
_ANSWER = 5  # the columns before what was read


@functools.cache
def write_sql() -> str:
    """The SELECT of the write, with one parameter (the order, JSON)."""
    return (
        "SELECT f.refused, f.written, f.version, f.head, f.category_version, "
        "to_jsonb(f.item), f.item_seen, to_jsonb(f.meta), f.meta_seen FROM config_write_or_read(%s::jsonb) AS f"
    )


def prepare_sql() -> str:
    """The PREPARE of ``write_sql`` under the function's name."""
    return "PREPARE config_write_or_read(jsonb) AS " + write_sql().replace("%s", "$1")


EXECUTE = "EXECUTE config_write_or_read(%s::jsonb)"
DUPLICATE_PREPARED_STATEMENT, UNDEFINED_PREPARED_STATEMENT = "42P05", "26000"
_prepared: weakref.WeakSet = weakref.WeakSet()  # the driver's connections holding the write prepared
# The history's head, read before the rows: what changed after it is newer than what was read.
_HEAD = ("SELECT last_id FROM configuration_history_head WHERE id = 1", [])


@dataclasses.dataclass
class Read:
    """What a write read without a lock: the metadata and rows (as ``bulk.read_for_write`` gives them), the versions
    they were read at, and the rows of the caller's read (``then``)."""

    metadata: dict[tuple[str, str], ConfigurationMetadata]
    rows: dict[tuple[str, str, str], SystemConfiguration]
    row_versions: dict[int, str]
    metadata_versions: list[str]
    then: list[tuple]


def applies() -> bool:
    """Whether a write may take this path: PostgreSQL, several statements per message, and no transaction open (the
    write is its own)."""
    return connection.vendor == "postgresql" and bulk.sends_several_statements() and not connection.in_atomic_block


def read(triples: set[tuple[str, str, str]], then: bulk.Then = None) -> Read | None:
    """One round trip, no lock: the rows of (category, key, environment) triples and their keys' metadata, with their
    versions (``config_read_for_write``), and the rows of ``then``; None on a database below migration 0029 (no
    such function yet: the caller takes the locked path)."""
    wanted = sorted(triples)
    statements = [
        _HEAD,
        (_read_sql(), [list(column) for column in zip(*wanted, strict=True)]),
        *([then] if then else []),
    ]
    try:
        results = bulk.run_together(statements)
    except ProgrammingError as error:  # outside any transaction: nothing to roll back
        if getattr(error.__cause__, "sqlstate", None) == UNDEFINED_FUNCTION:
            return None
        raise
    seen = _read_from(results[1], then=results[2] if then else [])
    _remember(wanted, seen, _head(results[0]))
    return seen


def _read_from(found: list[tuple], *, then: list[tuple]) -> Read:
    """A Read from ``config_read_for_write``'s rows (``_read_columns``)."""
    found_rows = [row[: _ROW_FIELDS + 1] for row in found if row[0] is not None]
    found_meta = {row[_ROW_FIELDS + 1]: row[_ROW_FIELDS + 1 :] for row in found}
    found_meta.pop(None, None)
    metadata = bulk.instances(ConfigurationMetadata, [meta[:-1] for meta in found_meta.values()])
    rows = bulk.instances(SystemConfiguration, [row[:-1] for row in found_rows])
    return Read(
        metadata={(m.category, m.config_key): m for m in metadata},
        rows={(r.category, r.config_key, r.environment): r for r in rows},
        row_versions={row[0]: row[-1] for row in found_rows},
        metadata_versions=sorted((f"{meta[0]}:{meta[-1]}" for meta in found_meta.values()), key=_by_id),
        then=then,
    )


def _read_columns_of(answered: tuple) -> tuple:
    """A row of what the write read instead (row and metadata as JSON, each with its version) as the columns of
    ``_read_columns``, typed as the driver gives them."""
    row, row_seen, meta, meta_seen = answered
    return (*_fields_of(SystemConfiguration, row), row_seen, *_fields_of(ConfigurationMetadata, meta), meta_seen)


# JSON's text of a column's value to the value the driver gives (Django reads jsonb as its text, JSONField parses it).
_FROM_JSON = {
    "DateTimeField": datetime.datetime.fromisoformat,
    "UUIDField": uuid.UUID,
    "JSONField": json.dumps,
}


def _fields_of(model, text: str | None) -> tuple:
    """The model's concrete fields, in order, of a row given as JSON (``to_jsonb``; None: no row)."""
    fields = model._meta.concrete_fields
    if text is None:
        return (None,) * len(fields)
    data = json.loads(text)
    values = []
    for field in fields:
        value = data[field.column]
        kind = (field.target_field if field.is_relation else field).get_internal_type()
        values.append(value if value is None or kind not in _FROM_JSON else _FROM_JSON[kind](value))
    return tuple(values)


Condition = tuple[str, str, list[int]] | None  # environment, category, the versions it may have


def write(rows: list[SystemConfiguration], seen: Read, *, context: audit.AuditContext, pairs: set[tuple[str, str]],
          condition: Condition = None, then: bulk.Then = None,
          answer: tuple[str, str] | None = None) -> list[tuple] | Read | None:  # fmt: skip
    """Write the value columns of ``rows`` in one transaction of one round trip, if nothing ``seen`` read has changed
    and, with ``condition`` (environment, category, versions), the category's version is one of those. Answers the
    rows of ``then``, read after the write, or with ``answer`` (environment, category) that category's version after
    the write, as one row (the write's own answer: no statement of its own); or, having written nothing: a Read of
    what the rows and their metadata are now, where one of them had changed (the caller may plan again on it), None
    where a review policy or the condition stands in the way, or the database cannot take this path (the caller
    takes the locked path)."""
    keys = [(row.category, row.config_key, row.environment) for row in rows]
    order = _order(rows, keys, seen, context=context, pairs=pairs, condition=condition, answer=answer)
    try:
        with bulk.refusals_explained(rows):
            [answered, *found] = bulk.run_together([(_write_sql(), [json.dumps(order)]), *([then] if then else [])])
    except DatabaseError as error:
        sqlstate = getattr(error.__cause__, "sqlstate", None)
        write_memory.forget_keys(keys)
        if sqlstate == UNDEFINED_PREPARED_STATEMENT and connection.connection is not None:
            _prepared.discard(connection.connection)  # the session lost it (DISCARD ALL): prepared again next time
        if sqlstate in (STALE, UNDEFINED_FUNCTION, UNDEFINED_PREPARED_STATEMENT):
            return None  # a row changed as it was written; a database below migration 0032; nothing was written
        raise
    refused, _, version, head, category_version = answered[0][:_ANSWER]
    if refused == "changed":
        fresh = _read_from([_read_columns_of(row[_ANSWER:]) for row in answered], then=[])
        _remember(keys, fresh, head)
        return fresh
    if refused is not None:
        write_memory.forget_keys(keys)
        return None
    written = {key: row for key, row in zip(keys, rows, strict=True)}
    _remember(keys, dataclasses.replace(seen, rows={**seen.rows, **written}), head or 0, version=version)
    return [(category_version,)] if answer else found[0] if then else []


def _order(rows, keys, seen: Read, *, context, pairs, condition: Condition, answer) -> dict:
    """What ``config_write_or_read`` takes (data/triggers/hot_path.py), as JSON; ``keys``: the rows' (category, key,
    environment)."""
    meta_pairs = sorted({(row.category, row.config_key) for row in rows})
    return {
        "settings": audit.settings_of(context, connection.vendor),
        "locks": sorted({locks.key_of(category, environment) for category, environment in pairs}),
        "rows": [
            {
                **{column: getattr(row, column) for column in ("id", *bulk.COLUMNS)},
                "seen": seen.row_versions[row.id],
                "loose": row.is_active and not row.is_encrypted,
            }
            for row in rows
        ],
        "metadata": [{"category": category, "config_key": key} for category, key in meta_pairs],
        "metadata_seen": seen.metadata_versions,
        "environments": sorted({row.environment for row in rows}),
        "version": dict(zip(("environment", "category", "versions"), condition, strict=True)) if condition else None,
        "wanted": keys,
        "answer": dict(zip(("environment", "category"), answer, strict=True)) if answer else None,
    }


def _write_sql() -> str:
    """The write's statement: the EXECUTE of the write prepared on this connection, prepared here the first time (not
    a query of the caller's: the session's set-up, once); the SELECT itself with CONFIG_DB_PREPARE off, or where there
    is no such function to prepare (below migration 0032: the write then refuses itself the same way)."""
    if not conf.db_prepare():
        return write_sql()
    connection.close_if_health_check_failed()  # as the cursor would: the connection checked is the one prepared
    connection.ensure_connection()
    driver = connection.connection
    if driver not in _prepared:
        try:
            with connection.wrap_database_errors:
                driver.execute(prepare_sql())
        except ProgrammingError as error:
            sqlstate = getattr(error.__cause__, "sqlstate", None)
            if sqlstate == UNDEFINED_FUNCTION:
                return write_sql()
            if sqlstate != DUPLICATE_PREPARED_STATEMENT:
                raise
        _prepared.add(driver)
    return EXECUTE


def recall(triples: set[tuple[str, str, str]]) -> Read | None:
    """What the process last read or wrote of each of ``triples`` (data/write_memory.py), as ``read`` gives it, if
    it remembers them all; else None. Only a guess: ``write`` confirms it under the lock."""
    kept = write_memory.entries(triples)
    if kept is None:
        return None
    metadata = {(e.meta.category, e.meta.config_key): (e.meta, e.meta_version) for e in kept if e.meta is not None}
    rows = {(e.row.category, e.row.config_key, e.row.environment): e for e in kept if e.row is not None}
    return Read(
        metadata={pair: meta for pair, (meta, _) in metadata.items()},
        rows={triple: e.row for triple, e in rows.items()},
        row_versions={e.row.id: e.row_version for e in rows.values()},
        metadata_versions=sorted((f"{meta.id}:{version}" for meta, version in metadata.values()), key=_by_id),
        then=[],
    )


def _remember(triples, seen: Read, seen_at: int, *, version: str | None = None) -> None:
    """Remember the rows of ``triples`` as ``seen`` has them, at the versions read (``version``: the one they were
    written at)."""
    metadata_versions = dict(pair.split(":") for pair in seen.metadata_versions)
    for category, key, environment in triples:
        row, meta = seen.rows.get((category, key, environment)), seen.metadata.get((category, key))
        write_memory.keep(
            (category, key, environment),
            write_memory.Kept(
                row=row,
                row_version=None if row is None else version or seen.row_versions[row.id],
                meta=meta,
                meta_version=metadata_versions.get(str(meta.id)) if meta is not None else None,
                seen_at=seen_at,
            ),
        )


def _head(rows: list[tuple]) -> int:
    return rows[0][0] if rows and rows[0][0] is not None else 0


def _by_id(version: str) -> int:
    return int(version.partition(":")[0])
