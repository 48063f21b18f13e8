"""Checking the history's hash chain (data/chain.py): edited, deleted and forged rows, and the head.

The chain is recomputed in Python from the rows as stored, history and archive together in id order, so a
database whose functions were replaced cannot vouch for itself. What is found, by the row's own link:

- a row whose hash does not match its content was **edited**;
- a row with no hash was **inserted outside the trigger** (forged);
- a row whose ``prev_hash`` is not the hash of the row before it: if it is the hash of the row before that one,
  the row in between was **forged** (nothing chains onto it); otherwise rows were **deleted** between the two
  (or the earlier one was rewritten together with its hash);
- the chain's recorded head (``configuration_history_head``) missing from the trail: rows were **deleted** at
  the end;
- the same for the metadata and template history (simple-history's tables, data/triggers/records.py), each
  table its own chain with its head in ``audit_chain_heads``;
- a live configuration whose state differs from what its latest history row records (data/live_state.py): a
  write **unrecorded** by the history (a disabled or bypassed trigger).

History partitions archived whole (services/partitions.py, PostgreSQL) leave the live table; the walk then steps
over each archive's stretches of the chain as its checkpoint recorded them (``archives.Anchor``: where a stretch
starts, its link to the row before, where it ends), so the live partitions are verified from the checkpoint on.
With ``archive=True`` it reads the archived rows instead (from the database or the export file), checks each
against its checkpoint (rows, and each stretch's ends, first link and last hash), and reports an archive it cannot
find (**missing**). A catalog entry (``configuration_history_archives``) that differs from its checkpoint row in
the chain is **edited**.

The head (last id and hash) can be pinned outside the database; ``expect_head`` then says whether the trail
still contains it, which fails once someone rewrote the chain from before it.
"""

from __future__ import annotations

import dataclasses
import heapq
import json

from django.db import connection, transaction

from ..data import chain, live_state
from ..data.models import AuditChainHead, HistoryArchive, HistoryChainHead
from ..data.triggers import records
from . import archives
from .archives import Anchor

HISTORY_TABLE = "configuration_history"

FETCH = 20_000


def _trail_sql(columns: str) -> str:
    return (
        f"SELECT {columns}, prev_hash, row_hash FROM configuration_history UNION ALL "
        f"SELECT {columns}, prev_hash, row_hash FROM configuration_history_archive ORDER BY 1"
    )


# On PostgreSQL the server's built-in casts write each column as text (chain.NORMALISED_SQL); elsewhere the
# stored values are normalised in Python. Either way Python joins the texts and computes every hash.
_TRAILS = {
    "postgresql": (_trail_sql(chain.NORMALISED_SQL), chain.content_of_texts),
    "other": (_trail_sql(", ".join(chain.FIELDS)), lambda values: chain.content(*values)),
}


def _records_sql(table: str, vendor: str) -> str:
    """A record table's chain: id, canonical content (computed by built-in or registered functions), links."""
    content_sql = (
        records.RECORD_CONTENT_SQL.format(row="t")
        if vendor == "postgresql"
        else f"config_record_content({', '.join(records.CONTENT_COLUMNS[table])})"
    )
    history = records.RECORDED[table]
    return f"SELECT history_id, {content_sql}, history_prev_hash, history_row_hash FROM {history} t ORDER BY 1"


@dataclasses.dataclass(frozen=True)
class Finding:
    """One thing wrong with the trail, with the ids it concerns."""

    kind: str  # "edited", "deleted", "forged", "unrecorded" or "missing"
    ids: tuple[int, ...]  # history ids; for "unrecorded", the configuration's id
    message: str
    table: str = HISTORY_TABLE

    def __str__(self) -> str:
        return self.message if self.table == HISTORY_TABLE else f"{self.table}: {self.message}"


@dataclasses.dataclass
class ChainReport:
    """What verify_history found: rows checked (per table), findings, the configuration history's head."""

    rows: int = 0
    rows_per_table: dict[str, int] = dataclasses.field(default_factory=dict)
    heads: dict[str, tuple[int, str] | None] = dataclasses.field(default_factory=dict)  # each chain's last link
    findings: list[Finding] = dataclasses.field(default_factory=list)
    head: tuple[int, str] | None = None
    expected_head_found: bool | None = None
    archived_rows: int = 0  # rows of archived partitions stepped over by their checkpoints, not read

    @property
    def ok(self) -> bool:
        """Whether nothing was found and the expected head, if given, is still there."""
        return not self.findings and self.expected_head_found is not False

    @property
    def head_text(self) -> str:
        """The configuration history's head as ID:HASH, to pin outside the database."""
        return f"{self.head[0]}:{self.head[1]}" if self.head else "(empty)"


def parse_head(text: str) -> tuple[int, str]:
    """``ID:HASH`` as printed by verify_history; ValueError if it is not that."""
    entry_id, sep, digest = text.partition(":")
    if not sep or not entry_id.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError("expected ID:HASH, the head that verify_history printed (a number, a colon, 64 hex digits)")
    return int(entry_id), digest


def verify_history(*, expect_head: tuple[int, str] | None = None, progress=None, archive: bool = False) -> ChainReport:
    """Recompute the whole chain (with ``archive``, the archived partitions' rows too); report every finding with
    the ids it concerns."""
    report = ChainReport()
    sql, content = _TRAILS.get(connection.vendor, _TRAILS["other"])
    outermost = not connection.in_atomic_block  # inside a caller's transaction its isolation level holds
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # the trail and the live rows as of one moment; records in UTC
                if outermost:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cursor.execute("SET LOCAL TimeZone = 'UTC'")
        catalog = list(HistoryArchive.objects.order_by("first_id"))
        sources, checks, partial = _archive_sources(report, catalog, read=archive)
        walk = _Walk(report, expect_head, content, tracker=live_state.Tracker(partial=partial))
        trail = _tagged(archives.stream(sql), HISTORY_TABLE)
        _run(walk, heapq.merge(trail, *sources, key=_order) if sources else trail, progress)
        for check in checks:
            if differences := check.differences():
                walk.found("edited", check.archive, f"differs from checkpoint #{check.archive.checkpoint_id} in "
                           f"{', '.join(differences)}")  # fmt: skip
        _compare_checkpoints(walk, catalog)
        for drift in walk.tracker.drifts():
            report.findings.append(Finding("unrecorded", (drift.config_id,), drift.message))
        for table, history in records.RECORDED.items():
            records_walk = _Walk(report, None, lambda row: row[1], table=history)
            _run(records_walk, _tagged(archives.stream(_records_sql(table, connection.vendor)), history))
    return report


def _archive_sources(report: ChainReport, catalog: list[HistoryArchive], *, read: bool):
    """What the walk merges in for each archive: its rows (checked against its checkpoint) or its anchors."""
    sources, checks, partial = [], [], False
    for entry in catalog:
        found = archives.rows(entry) if read else None
        if found is None:
            partial = True
            sources.append([(anchor, None) for anchor in archives.anchors(entry)])
            if read:
                report.findings.append(Finding("missing", (entry.checkpoint_id,), f"archived partition "
                                       f"{entry.table_name} was exported to {entry.exported_to}, which is gone: "
                                       "not verified", _archive_name(entry)))  # fmt: skip
            continue
        check = archives.Check(entry)
        checks.append(check)
        sources.append(_tagged(_checked(found, check), _archive_name(entry)))
    return sources, checks, partial


def _checked(rows, check: archives.Check):
    for row in rows:
        check.add(row)
        yield row


def _tagged(rows, table: str):
    for row in rows:
        yield row, table


def _order(item) -> int:
    return item[0].first_id if isinstance(item[0], Anchor) else int(item[0][0])


def _compare_checkpoints(walk: _Walk, catalog: list[HistoryArchive]) -> None:
    """Each catalog entry whose checkpoint row the walk read must say what that row says."""
    for entry in catalog:
        recorded = walk.checkpoints.get(entry.checkpoint_id)
        if recorded is None:
            continue
        wanted = {name: recorded.get(name) for name in archives.checkpoint_of(entry)}
        if wanted != archives.checkpoint_of(entry):
            walk.found("edited", entry, f"its catalog entry differs from checkpoint #{entry.checkpoint_id}")


def _run(walk: _Walk, items, progress=None) -> None:
    """Walk one chain from its first row to its recorded head."""
    for done, (item, table) in enumerate(items, 1):
        if table is None:
            walk.anchor(item)
        else:
            walk.step(item, table)
        if progress and done % FETCH == 0:
            progress(walk.report.rows)
    if progress:
        progress(walk.report.rows)
    walk.finish()


_ACTION, _NEW_VALUE = chain.FIELDS.index("action"), chain.FIELDS.index("new_value")


class _Walk:
    """One chain's walk in id order: each row's hash, its link to the one before, and the head at the end."""

    def __init__(self, report: ChainReport, expect_head, content, *, tracker=None, table=HISTORY_TABLE) -> None:
        self.report, self.expect_head, self.content, self.table = report, expect_head, content, table
        self.tracker = tracker
        report.rows_per_table.setdefault(table, 0)
        self.head: tuple[int, str] | None = None  # the last chained row
        self.before: tuple[int, str] | None = None  # the one before it
        self.checkpoints: dict[int, dict] = {}  # checkpoint rows read: history id -> what they recorded
        if expect_head is not None:
            report.expected_head_found = False

    def step(self, row: tuple, table: str) -> None:
        """Check one row: its hash, its link to the row before."""
        self.report.rows += 1
        self.report.rows_per_table[table] = self.report.rows_per_table.get(table, 0) + 1
        if self.tracker is not None:
            self.tracker.track(row)
        entry_id, prev_hash, row_hash = int(row[0]), row[-2], row[-1]
        if row_hash is None:
            self._found("forged", (entry_id,), f"#{entry_id} has no chain link: it was inserted outside the trigger",
                        table)  # fmt: skip
            return
        if self.expect_head is not None and self.expect_head == (entry_id, row_hash):
            self.report.expected_head_found = True
        if chain.chain_hash(prev_hash, self.content(row[:-2])) != row_hash:
            self._found("edited", (entry_id,), f"#{entry_id} was edited: its hash does not match its content", table)
        elif self.table == HISTORY_TABLE and row[_ACTION] == "checkpoint":
            self.checkpoints[entry_id] = json.loads(row[_NEW_VALUE])
        if self.head is None or prev_hash != self.head[1]:
            self._check_link(entry_id, prev_hash, table)
        self.before, self.head = self.head, (entry_id, row_hash)

    def anchor(self, anchor: Anchor) -> None:
        """Step over a stretch of an archive not read: its link to the row before, then its end as the head."""
        self.report.archived_rows += anchor.rows
        if self.head is None or anchor.first_prev != self.head[1]:
            self._check_link(anchor.first_id, anchor.first_prev, _archive_name(anchor.archive))
        if self.expect_head is not None and self.expect_head == (anchor.last_id, anchor.last_hash):
            self.report.expected_head_found = True
        self.before, self.head = self.head, (anchor.last_id, anchor.last_hash)

    def _check_link(self, entry_id: int, prev_hash: str | None, table: str) -> None:
        expected = self.head[1] if self.head else None
        if prev_hash == expected:
            return
        if self.head is None:
            message = f"rows before #{entry_id} were deleted: it is not the chain's first"
            self._found("deleted", (entry_id,), message, table)
        elif self.before is not None and prev_hash == self.before[1]:
            forged = self.head[0]
            self._found("forged", (forged,), f"#{forged} was inserted outside the trigger: the chain skips it", table)
        else:
            gap = (self.head[0], entry_id)
            message = f"rows between #{gap[0]} and #{gap[1]} were deleted (or #{gap[0]} rewritten)"
            self._found("deleted", gap, message, table)

    def finish(self) -> None:
        """Compare the chain's last row with its recorded head."""
        self.report.heads[self.table] = self.head
        if self.table == HISTORY_TABLE:
            self.report.head = self.head
            recorded = HistoryChainHead.objects.filter(id=1).values_list("last_id", "last_hash").first()
        else:
            recorded = AuditChainHead.objects.filter(table_name=self.table).values_list("last_id", "last_hash").first()
        if recorded and recorded[1] and (self.head is None or tuple(recorded) != self.head):
            last = self.head[0] if self.head else "the start"
            self._found(
                "deleted",
                (recorded[0],),
                f"the chain's head is #{recorded[0]}, but the trail ends at #{last}: rows after it were deleted",
                self.table,
            )

    def found(self, kind: str, archive: HistoryArchive, message: str) -> None:
        """A finding about a whole archived partition."""
        name = _archive_name(archive)
        self._found(kind, (archive.checkpoint_id,), f"archived partition {archive.table_name} {message}", name)

    def _found(self, kind: str, ids: tuple[int, ...], message: str, table: str) -> None:
        self.report.findings.append(Finding(kind, ids, message, table))


def _archive_name(archive: HistoryArchive) -> str:
    return archive.table_name
