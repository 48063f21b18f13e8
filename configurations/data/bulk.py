"""Set-based reads and writes of many configuration rows: one statement for any number of rows.

On PostgreSQL the rows travel as one array per column through ``unnest()``, which is several times faster
than Django's bulk_create/bulk_update for thousands of rows (those build a VALUES list or a CASE per row),
and the statement-level history triggers still record every row with one INSERT. Other databases use
Django's bulk operations.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db import DatabaseError, connection

from ..core.vocabulary import EnvironmentPermissionDenied
from . import audit, locks
from .models import ConfigurationMetadata, SystemConfiguration

INSUFFICIENT_PRIVILEGE = "42501"  # PostgreSQL's SQLSTATE for a row-level security (or privilege) refusal

WRITE_BATCH = 1000  # rows per statement where Django's bulk operations are used
COLUMNS = ("config_value", "value_type", "is_encrypted", "is_active")

_INSERT = """
INSERT INTO system_configurations (category, config_key, environment, config_value, value_type, is_encrypted, is_active)
SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::text[], %s::varchar[],
                     %s::boolean[], %s::boolean[])
RETURNING id, category, config_key, environment
"""
_UPDATE = """
UPDATE system_configurations AS c
   SET config_value = v.config_value, value_type = v.value_type, is_encrypted = v.is_encrypted, is_active = v.is_active
  FROM unnest(%s::bigint[], %s::text[], %s::varchar[], %s::boolean[], %s::boolean[])
       AS v(id, config_value, value_type, is_encrypted, is_active)
 WHERE c.id = v.id
"""


READ_BATCH = 500  # keys per statement on SQLite (a row-value IN list; PostgreSQL takes arrays of any length)


def metadata_of(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], ConfigurationMetadata]:
    """The metadata of (category, key) pairs, by pair: one statement (raw SQL: the hot write path reads it once per
    write, and the ORM's compilation cost more than the query)."""
    found = _select(ConfigurationMetadata, ("category", "config_key"), sorted(pairs), lock=False)
    return {(m.category, m.config_key): m for m in found}


def rows_of(triples: set[tuple[str, str, str]], *, lock: bool) -> dict[tuple[str, str, str], SystemConfiguration]:
    """The rows of (category, key, environment) triples, by triple; ``lock`` holds them (FOR UPDATE) on PostgreSQL."""
    found = _select(SystemConfiguration, ("category", "config_key", "environment"), sorted(triples), lock=lock)
    return {(r.category, r.config_key, r.environment): r for r in found}


def read_for_write(pairs, meta_pairs, triples) -> tuple[dict, dict]:
    """Under the categories' write locks: the metadata and the locked rows a write will read (``metadata_of`` and
    ``rows_of``). On PostgreSQL the lock's statement and the two reads travel together, one round trip."""
    if connection.vendor != "postgresql" or not sends_several_statements():
        locks.lock_categories(pairs)
        return metadata_of(meta_pairs), rows_of(triples, lock=True)
    statements = [
        select_sql(ConfigurationMetadata, ("category", "config_key"), sorted(meta_pairs), lock=False),
        select_sql(SystemConfiguration, ("category", "config_key", "environment"), sorted(triples), lock=True),
    ]
    lock = locks.lock_statement(pairs)
    results = run_together([(lock.sql, lock.params), *statements] if lock else statements)
    if lock:
        lock.took(results.pop(0))
    metadata = instances(ConfigurationMetadata, results[0])
    rows = instances(SystemConfiguration, results[1])
    by_pair = {(m.category, m.config_key): m for m in metadata}
    return by_pair, {(r.category, r.config_key, r.environment): r for r in rows}


def instances(model, rows: list[tuple]) -> list:
    """Model instances of rows read by ``select_sql`` (its columns, in the model's field order), as the ORM makes."""
    fields = list(model._meta.concrete_fields)
    names = [f.attname for f in fields]
    return [model.from_db(connection.alias, names, _converted(fields, row)) for row in rows]


def sends_several_statements() -> bool:
    """Whether the driver binds parameters on the client (Django's default with psycopg 3), which lets one
    ``execute`` carry several statements."""
    return not connection.settings_dict.get("OPTIONS", {}).get("server_side_binding")


def run_together(statements: list[tuple[str, list]]) -> list[list[tuple]]:
    """Several statements in one round trip; each one's rows, in order."""
    results = []
    with connection.cursor() as cursor:
        cursor.execute("; ".join(sql for sql, _ in statements), [p for _, params in statements for p in params])
        for _ in statements:
            results.append(cursor.fetchall())
            cursor.nextset()
    return results


def _select(model, identity: tuple[str, ...], wanted: list[tuple], *, lock: bool) -> list:
    if not wanted:
        return []
    if connection.vendor == "postgresql":
        sql, params = select_sql(model, identity, wanted, lock=lock)
        batches = [(sql, params)]
    else:
        batches = [select_sql(model, identity, wanted[start : start + READ_BATCH], lock=False)
                   for start in range(0, len(wanted), READ_BATCH)]  # fmt: skip
    found = []
    with connection.cursor() as cursor:
        for sql, params in batches:
            cursor.execute(sql, params)
            found += instances(model, cursor.fetchall())
    return found


def select_sql(model, identity: tuple[str, ...], wanted: list[tuple], *, lock: bool) -> tuple[str, list]:
    """SELECT the model's rows whose identity columns are one of ``wanted``: arrays on PostgreSQL (any number), a
    row-value IN list elsewhere (the caller batches)."""
    fields = list(model._meta.concrete_fields)
    columns = ", ".join(f"t.{connection.ops.quote_name(f.column)}" for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    if connection.vendor == "postgresql":
        unnest = ", ".join("%s::varchar[]" for _ in identity)
        sql = (f"SELECT {columns} FROM {table} AS t JOIN unnest({unnest}) AS w({', '.join(identity)}) "
               f"USING ({', '.join(identity)}){' FOR UPDATE OF t' if lock else ''}")  # fmt: skip
        return sql, [list(column) for column in zip(*wanted, strict=True)] if wanted else [[] for _ in identity]
    tuples = ", ".join("(" + ", ".join("%s" for _ in identity) + ")" for _ in wanted)
    return f"SELECT {columns} FROM {table} AS t WHERE ({', '.join(identity)}) IN ({tuples})", [
        value for item in wanted for value in item
    ]


def _converted(fields, row) -> list:
    """A row's values as the ORM would have given them (the database backend's own converters, e.g. SQLite's UUIDs,
    booleans and datetimes, and the fields' own, e.g. JSON)."""
    values = []
    for (field, converters), value in zip(_converters(fields), row, strict=True):
        for converter in converters:
            value = converter(value, field, connection)
        values.append(value)
    return values


_CONVERTERS: dict[tuple[str, str], list] = {}


def _converters(fields) -> list:
    key = (connection.vendor, fields[0].model._meta.label)
    if key not in _CONVERTERS:
        table = fields[0].model._meta.db_table
        _CONVERTERS[key] = [
            (f, connection.ops.get_db_converters(f.get_col(table)) + f.get_db_converters(connection)) for f in fields
        ]
    return _CONVERTERS[key]


def new_row(category: str, key: str, environment: str) -> SystemConfiguration:
    """An unsaved row for ``insert``, built without ``Model(**kwargs)``'s lookups over every field (a bulk import makes
    thousands); fields with a default (or a database default: the timestamps, the author) get it as Django would."""
    values = dict.fromkeys(_ROW_NAMES)
    values.update({name: field.get_default() for name, field in _ROW_DEFAULTED})
    values.update({"category": category, "config_key": key, "environment": environment})
    row = SystemConfiguration.from_db(None, _ROW_NAMES, list(values.values()))
    row._state.adding, row._state.db = True, None
    return row


_ROW_NAMES = [f.attname for f in SystemConfiguration._meta.concrete_fields]
_ROW_DEFAULTED = [(f.attname, f) for f in SystemConfiguration._meta.concrete_fields
                  if (f.has_default() or f.has_db_default()) and not f.primary_key]  # fmt: skip


# A read to run right after a write, in its round trip where the driver allows (the API's PUT reads the category's
# new version so): its SQL and parameters; the write returns its rows.
Then = tuple[str, list] | None


def insert(rows: list[SystemConfiguration], then: Then = None) -> list[tuple]:
    """Insert new rows and give each its primary key; the rows of ``then``, read after them."""
    if not rows:
        return read(then)
    audit.flush()  # a deferred audit context is set before anything is written
    if connection.vendor != "postgresql":
        SystemConfiguration.objects.bulk_create(rows, batch_size=WRITE_BATCH)
        return read(then)
    identity = ("category", "config_key", "environment")
    params = [[getattr(row, column) for row in rows] for column in (*identity, *COLUMNS)]
    with connection.cursor() as cursor, refusals_explained(rows):
        together = _together(cursor, _INSERT, params, then)
        ids = {tuple(found[1:]): found[0] for found in cursor.fetchall()}
        found = _trailing(cursor, then, together)
    for row in rows:
        row.pk = ids[(row.category, row.config_key, row.environment)]
    return found


def update(rows: list[SystemConfiguration], then: Then = None) -> list[tuple]:
    """Write the value columns of existing rows; the rows of ``then``, read after them."""
    if not rows:
        return read(then)
    audit.flush()
    if connection.vendor != "postgresql":
        SystemConfiguration.objects.bulk_update(rows, list(COLUMNS), batch_size=WRITE_BATCH)
        return read(then)
    params = [[getattr(row, column) for row in rows] for column in ("id", *COLUMNS)]
    with connection.cursor() as cursor, refusals_explained(rows):
        together = _together(cursor, _UPDATE, params, then)
        if cursor.rowcount != len(rows):  # rows the policy hid from this actor: nothing may be written
            raise DatabaseError(INSUFFICIENT_PRIVILEGE)
        return _trailing(cursor, then, together)


def _together(cursor, sql: str, params: list, then: Then) -> bool:
    """Execute the write, with ``then`` after it in the same round trip when the driver allows; whether it did."""
    if then is None or not sends_several_statements():
        cursor.execute(sql, params)
        return False
    cursor.execute(f"{sql}; {then[0]}", [*params, *then[1]])
    return True


def _trailing(cursor, then: Then, together: bool) -> list[tuple]:
    if not together:
        return read(then)
    cursor.nextset()
    return cursor.fetchall()


def read(then: Then) -> list[tuple]:
    """The rows of ``then`` (none when it is None), in a round trip of its own."""
    if then is None:
        return []
    with connection.cursor() as cursor:
        cursor.execute(*then)
        return cursor.fetchall()


@contextmanager
def refusals_explained(rows: list[SystemConfiguration]):
    """Turn PostgreSQL's row-level security refusal into the application's own permission error."""
    try:
        yield
    except DatabaseError as error:
        if INSUFFICIENT_PRIVILEGE not in (getattr(error.__cause__, "sqlstate", None), *error.args):
            raise
        environments = ", ".join(sorted({row.environment for row in rows}))
        hint = "" if audit.current().actor else " Connected as the application role, a command needs --actor USERNAME."
        raise EnvironmentPermissionDenied(
            f"You may not write to the {environments} environment: the database refused it (row-level security).{hint}"
        ) from None
