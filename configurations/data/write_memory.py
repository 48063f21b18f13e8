"""What the process remembers of the rows its writes of their own last read or wrote (data/optimistic.py), so that the
next write of a key may skip the read: one round trip in all.

Each entry is a key's row and metadata with their versions (``xmin``) and the history head it was read or written at.
It is only a guess, which the write's own checks confirm under the lock: a plaintext value another writer changed
since is written over all the same (migration 0033); where more changed, the write writes nothing and answers what is
there now (migration 0032), which is remembered instead and planned on, so a wrong guess costs no more than reading
first would have. To make the guess right more often, a runtime watcher reports the rows other writes changed
(``changed``, from the history it already reads after each NOTIFY) with what they are now: a remembered row takes its
new value and version, or is forgotten when the watcher cannot tell. Bounded (``KEPT`` keys a database, the least
recently used forgotten first), shared by the process's threads (a pool lends its sessions to one request at a time),
rows as stored: a secret only as its envelope.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from collections.abc import Iterable

from django.db import connection
from django.db.models import Model
from django.db.models.base import ModelState

from .models import ConfigurationMetadata, SystemConfiguration

KEPT = 512  # keys a database

Triple = tuple[str, str, str]  # category, key, environment


@dataclasses.dataclass(frozen=True)
class Kept:
    """A key as last read or written: its row and metadata (None: none), their versions, and the history head then."""

    row: SystemConfiguration | None
    row_version: str | None
    meta: ConfigurationMetadata | None
    meta_version: str | None
    seen_at: int


class _Memory(collections.OrderedDict):
    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()


_MEMORIES: dict[tuple, _Memory] = {}


def _memory() -> _Memory:
    settings = connection.settings_dict
    database = (connection.alias, settings["NAME"], settings.get("HOST"), settings.get("PORT"), settings.get("USER"))
    memory = _MEMORIES.get(database)
    return memory if memory is not None else _MEMORIES.setdefault(database, _Memory())


def _copied(entry: Kept) -> Kept:
    return Kept(_clone(entry.row), entry.row_version, _clone(entry.meta), entry.meta_version, entry.seen_at)


def _clone(instance: Model | None) -> Model | None:
    """A copy of a model instance's fields and state, without its cache of related objects; 12x faster than
    ``copy.copy``, which pickles the instance's state on each write."""
    if instance is None:
        return None
    clone = instance.__class__.__new__(instance.__class__)
    fields = instance.__dict__.copy()
    fields["_state"] = state = ModelState()
    state.db, state.adding = instance._state.db, instance._state.adding
    clone.__dict__ = fields
    return clone


def keep(triple: Triple, entry: Kept) -> None:
    """Remember ``entry`` for ``triple`` (its row and metadata copied: callers may change theirs)."""
    entry = _copied(entry)
    memory = _memory()
    with memory.lock:
        memory[triple] = entry
        memory.move_to_end(triple)
        while len(memory) > KEPT:
            memory.popitem(last=False)


def entries(triples: Iterable[Triple]) -> list[Kept] | None:
    """What is remembered of each of ``triples`` (rows and metadata copied), or None unless all are."""
    memory = _memory()
    with memory.lock:
        found = [memory.get(triple) for triple in triples]
    if any(entry is None for entry in found):
        return None
    return [_copied(entry) for entry in found]


def forget_keys(triples: Iterable[Triple]) -> None:
    """Forget what is remembered of ``triples``."""
    memory = _memory()
    with memory.lock:
        for triple in triples:
            memory.pop(triple, None)


def changed(history: Iterable[tuple[int, int]], current: dict[int, tuple] | None = None, head: int = 0) -> int:
    """The rows that changed after they were remembered, given as (configuration id, history id) pairs in the order of
    the history (a runtime watcher's delta up to ``head``): each one ``current`` holds, as (id, environment, category,
    key, value, type, encrypted, active, version) read after ``head``, is remembered as it is now, at ``head``; the
    others are forgotten. A write's own history row is not after the head it was remembered at, so it changes nothing
    of its own. Answers the number of rows remembered anew or forgotten."""
    newest, current = dict(history), current or {}
    memory = _memory()
    with memory.lock:
        stale = [
            (triple, entry)
            for triple, entry in memory.items()
            if entry.row is not None and newest.get(entry.row.id, 0) > entry.seen_at
        ]
        for triple, entry in stale:
            now = current.get(entry.row.id)
            if now is None or now[8] is None or (now[2], now[3], now[1]) != triple:
                del memory[triple]  # gone, moved, or no version to compare: read afresh
                continue
            row = _clone(entry.row)
            row.config_value, row.value_type, row.is_encrypted, row.is_active = now[4:8]
            memory[triple] = Kept(row, now[8], entry.meta, entry.meta_version, head)
    return len(stale)


def forget() -> None:
    """Forget everything the process remembers (a full reload of the runtime, a restore; before each test)."""
    _MEMORIES.clear()
