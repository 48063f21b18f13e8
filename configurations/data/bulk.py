"""Set-based writes of many configuration rows: one statement for any number of rows.

On PostgreSQL the rows travel as one array per column through ``unnest()``, which is several times faster
than Django's bulk_create/bulk_update for thousands of rows (those build a VALUES list or a CASE per row),
and the statement-level history triggers still record every row with one INSERT. Other databases use
Django's bulk operations.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db import DatabaseError, connection

from ..core.vocabulary import EnvironmentPermissionDenied
from . import audit
from .models import SystemConfiguration

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


def insert(rows: list[SystemConfiguration]) -> None:
    """Insert new rows and give each its primary key."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        SystemConfiguration.objects.bulk_create(rows, batch_size=WRITE_BATCH)
        return
    identity = ("category", "config_key", "environment")
    params = [[getattr(row, column) for row in rows] for column in (*identity, *COLUMNS)]
    with connection.cursor() as cursor, _refusals_explained(rows):
        cursor.execute(_INSERT, params)
        ids = {tuple(found[1:]): found[0] for found in cursor.fetchall()}
    for row in rows:
        row.pk = ids[(row.category, row.config_key, row.environment)]


def update(rows: list[SystemConfiguration]) -> None:
    """Write the value columns of existing rows."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        SystemConfiguration.objects.bulk_update(rows, list(COLUMNS), batch_size=WRITE_BATCH)
        return
    params = [[getattr(row, column) for row in rows] for column in ("id", *COLUMNS)]
    with connection.cursor() as cursor, _refusals_explained(rows):
        cursor.execute(_UPDATE, params)
        if cursor.rowcount != len(rows):  # rows the policy hid from this actor: nothing may be written
            raise DatabaseError(INSUFFICIENT_PRIVILEGE)


@contextmanager
def _refusals_explained(rows: list[SystemConfiguration]):
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
