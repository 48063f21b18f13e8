"""What the process remembers of the rows its writes of their own last read or wrote (data/optimistic.py), so that the
next write of a key may skip the read: one round trip in all.

Each entry is a key's row and metadata with their versions (``xmin``) and the history head it was read or written at.
It is only a guess, which the write's own checks confirm under the lock: a version another session wrote since makes
the write refuse itself whole, and the key is read afresh. To spare that wasted round trip, a runtime watcher reports
the rows other writes changed (``changed``, from the history it already reads after each NOTIFY) and their entries are
forgotten. Where no watcher runs, a key whose write was refused twice within ``CONTENDED_SECONDS`` is not trusted from
memory for that long (another process keeps writing it): at most two wasted round trips a key in that time, while a
single write by another process costs one and leaves the key trusted again. Bounded (``KEPT`` keys a
database, the least recently used forgotten first), shared by the process's threads (a pool lends its sessions to one
request at a time), rows as stored: a secret only as its envelope.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from collections.abc import Iterable

from django.db import connection
from django.db.models import Model
from django.db.models.base import ModelState

from .models import ConfigurationMetadata, SystemConfiguration

KEPT = 512  # keys a database
CONTENDED_SECONDS = 30.0

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
        self.contended: collections.OrderedDict[Triple, float] = collections.OrderedDict()  # key: until (monotonic)
        self.refused: collections.OrderedDict[Triple, float] = collections.OrderedDict()  # key: its last refusal

    def trusted(self, triple: Triple, now: float) -> bool:
        until = self.contended.get(triple)
        if until is not None and until <= now:
            del self.contended[triple]
        return until is None or until <= now


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
    memory, now = _memory(), time.monotonic()
    with memory.lock:
        found = [memory.get(triple) if memory.trusted(triple, now) else None for triple in triples]
    if any(entry is None for entry in found):
        return None
    return [_copied(entry) for entry in found]


def forget_keys(triples: Iterable[Triple], *, contended: bool = False) -> None:
    """Forget what is remembered of ``triples``; ``contended``: their write was refused, and a key refused a second
    time within ``CONTENDED_SECONDS`` is read afresh for that long, even once remembered again."""
    memory, now = _memory(), time.monotonic()
    with memory.lock:
        for triple in triples:
            memory.pop(triple, None)
            if not contended:
                continue
            before = memory.refused.pop(triple, None)
            memory.refused[triple] = now
            if before is not None and now - before < CONTENDED_SECONDS:
                memory.contended[triple] = now + CONTENDED_SECONDS
                memory.contended.move_to_end(triple)
        for marks in (memory.contended, memory.refused):
            while len(marks) > KEPT:
                marks.popitem(last=False)


def changed(history: Iterable[tuple[int, int]]) -> int:
    """Forget the rows that changed after they were remembered, given as (configuration id, history id) pairs in the
    order of the history (a runtime watcher's delta); the number forgotten. A write's own history row is not after
    the head it was remembered at, so it forgets nothing of its own."""
    newest = dict(history)
    memory = _memory()
    with memory.lock:
        stale = [
            triple
            for triple, entry in memory.items()
            if entry.row is not None and newest.get(entry.row.id, 0) > entry.seen_at
        ]
        for triple in stale:
            del memory[triple]
    return len(stale)


def forget() -> None:
    """Forget everything the process remembers (a full reload of the runtime, a restore; before each test)."""
    _MEMORIES.clear()
