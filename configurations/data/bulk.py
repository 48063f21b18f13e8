"""Set-based writes of many configuration rows: one statement for any number of rows.

On PostgreSQL the rows travel as one array per column through ``unnest()``, which is several times faster
than Django's bulk_create/bulk_update for thousands of rows (those build a VALUES list or a CASE per row),
and the statement-level history triggers still record every row with one INSERT. Other databases use
Django's bulk operations.
"""

from __future__ import annotations

from django.db import connection

from .models import SystemConfiguration

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
    with connection.cursor() as cursor:
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
    with connection.cursor() as cursor:
        cursor.execute(_UPDATE, params)
