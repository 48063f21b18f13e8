"""History partitions archived whole: their rows read back (from the database or an exported file), and exported.

An archived partition stays in the database as ``configuration_history_archived_YYYY_MM`` until it is exported:
``export`` writes it to a JSON Lines file (mode 0600, never over an existing file): for each partition a
``{"checkpoint": ...}`` line, then one line per row with every column, and only then drops the table.
``verify_history --archive`` reads the rows back from either place (``rows``) and checks them against the
checkpoint (``Check``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator

from django.db import connection

from ..data import chain
from ..data.models import HistoryArchive

_COLUMNS = (*chain.FIELDS, "prev_hash", "row_hash")
# Each column as the export writes it: times in UTC with microseconds, users and addresses as text.
_EXPORTED_SQL = ", ".join(
    {
        "created_at": """to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')""",
        "changed_by": "changed_by::text",
        "ip_address": "host(ip_address)",
    }.get(column, column)
    for column in _COLUMNS
)
FETCH = 20_000


@dataclasses.dataclass(frozen=True)
class Anchor:
    """A stretch of the chain held by an archive the walk does not read: where it starts and ends."""

    first_id: int
    first_prev: str | None
    last_id: int
    last_hash: str | None  # None: the stretch ends in a row written outside the chain
    rows: int
    archive: HistoryArchive


def anchors(archive: HistoryArchive) -> list[Anchor]:
    """The archive's runs (stretches of the chain), as recorded at its checkpoint."""
    return [Anchor(first, prev, last, last_hash, rows, archive) for first, prev, last, last_hash, rows in archive.runs]


def checkpoint_of(archive: HistoryArchive) -> dict:
    """What the checkpoint row recorded of the archive (the fields its ``new_value`` holds)."""
    return {
        "first_id": archive.first_id,
        "last_id": archive.last_id,
        "rows": archive.row_count,
        "last_hash": archive.last_hash,
        "runs": archive.runs,
    }


def in_database(archive: HistoryArchive) -> bool:
    """Whether the archive's table is still in the database (not exported and dropped)."""
    return archive.exported_to is None


def rows(archive: HistoryArchive) -> Iterator[tuple] | None:
    """The archive's rows in id order, as ``chain.NORMALISED_SQL`` writes them plus the two hashes; None if its
    export file is missing."""
    if in_database(archive):
        return _table_rows(archive)
    if not os.path.exists(archive.exported_to):
        return None
    return _file_rows(archive)


def _table_rows(archive: HistoryArchive) -> Iterator[tuple]:
    table = connection.ops.quote_name(archive.table_name)
    return stream(f"SELECT {chain.NORMALISED_SQL}, prev_hash, row_hash FROM {table} ORDER BY id")


def stream(sql: str) -> Iterator[tuple]:
    """The rows of a query, read in batches through a server-side cursor (PostgreSQL) or a plain one."""
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql)
        while batch := cursor.fetchmany(FETCH):
            yield from batch


def _file_rows(archive: HistoryArchive) -> Iterator[tuple]:
    inside = False
    with open(archive.exported_to, encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if "checkpoint" in record:
                inside = record["checkpoint"].get("checkpoint_id") == archive.checkpoint_id
                continue
            if inside:
                yield (*chain.texts([record[name] for name in chain.FIELDS]), record["prev_hash"], record["row_hash"])


class Check:
    """An archive's rows as read, against its checkpoint: rows, and its runs (each one's ends, first link, last hash
    and rows). With each row's own hash checked by the walk, a run whose last hash matches holds exactly the rows
    that were archived: that hash is the SHA-256 chain over all of them."""

    def __init__(self, archive: HistoryArchive) -> None:
        self.archive = archive
        self.count = 0
        self.runs: list[list] = []

    def add(self, row: tuple) -> None:
        """Count a row (in id order) into the totals the checkpoint recorded."""
        entry_id, prev_hash, row_hash = int(row[0]), row[-2], row[-1]
        self.count += 1
        if self.runs and self.runs[-1][3] == prev_hash:
            self.runs[-1][2:] = [entry_id, row_hash, self.runs[-1][4] + 1]
        else:
            self.runs.append([entry_id, prev_hash, entry_id, row_hash, 1])

    def differences(self) -> list[str]:
        """What differs from the checkpoint (empty: the archive is what was archived)."""
        archive, found = self.archive, []
        if self.count != archive.row_count:
            found.append(f"{self.count} rows, not {archive.row_count}")
        if self.runs != [list(run) for run in archive.runs]:
            found.append("its stretches of the chain (ids or links)")
        return found


def export(archives: list[HistoryArchive], path: str) -> None:
    """Write the archives to ``path`` (JSON Lines, 0600; refused if it exists), then drop their tables."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        for archive in archives:
            head = {"checkpoint_id": archive.checkpoint_id, "table": archive.table_name, **checkpoint_of(archive)}
            out.write(json.dumps({"checkpoint": head}))
            out.write("\n")
            for row in _exported_rows(archive):
                out.write(json.dumps(dict(zip(_COLUMNS, row, strict=True)), ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())
    with connection.cursor() as cursor:
        for archive in archives:
            cursor.execute("SELECT config_history_drop_archive(%s, %s)", [archive.checkpoint_id, os.path.abspath(path)])


def _exported_rows(archive: HistoryArchive) -> Iterator[tuple]:
    return stream(f"SELECT {_EXPORTED_SQL} FROM {connection.ops.quote_name(archive.table_name)} ORDER BY id")
