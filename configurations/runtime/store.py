"""Every snapshot of this process and what its refreshes need (runtime/snapshots.py builds and refreshes them)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..observability import metrics

# Snapshots are runtime/snapshots.py's; this module does not import it (snapshots imports the store).
Snapshot = Any


class Store:
    """Every snapshot of this process, what the refreshes need to apply deltas, and the watcher.

    Readers only ever touch ``snapshots`` (one dict lookup). The rest is written by whoever refreshes, under
    ``refresh_lock``: ``seen`` is the newest history id applied; ``ids`` maps each environment's configuration ids
    to their (category, key), so a row that moved or went away leaves the snapshot; ``rows`` keeps the stored rows
    only when snapshots are saved on disk.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.refresh_lock = threading.RLock()
        self.changed = threading.Condition()  # notified on every new snapshot (long polls wait on it)
        self.listeners: list[Callable[[], None]] = []  # called on every new snapshot (event loops' waiters)
        self.watcher = None
        self.clear()

    def clear(self) -> None:
        """Forget every snapshot and what refreshes know (the watcher is the caller's to stop)."""
        self.snapshots: dict[str, Snapshot] = {}
        self.default_environment: str | None = None
        self.seen: int | None = None
        self.ids: dict[str, dict[int, tuple[str, str]]] = {}
        self.rows: dict[str, dict[int, tuple]] = {}
        self.password_keys: frozenset[tuple[str, str]] = frozenset()
        self.defaults: dict[str, dict[str, tuple[str, str]]] = {}  # category -> key -> (default text, value type)
        self.metadata: list[tuple] = []  # the metadata rows read, as saved on disk with a snapshot
        self.metadata_seen: int | None = None  # the metadata version they were read at
        self.confirmed_at: dict[str, float] = {}
        self.inherited: dict[str, Snapshot] = {}  # loaded by the parent before fork(): adopted on first use
        self.full_loads = 0
        self.deltas = 0

    def after_fork(self) -> None:
        """In a forked child (a gunicorn worker): what the parent loaded is kept, to be adopted and brought up to
        date by a delta on first use (``adopt``); the locks, the watcher and the waiting readers were the parent's
        and start afresh."""
        self.lock = threading.Lock()
        self.refresh_lock = threading.RLock()
        self.changed = threading.Condition()
        self.listeners = []
        self.watcher = None
        self.inherited, self.snapshots = {**self.inherited, **self.snapshots}, {}
        self.full_loads = self.deltas = 0  # this process's own

    def put(self, snapshot: Snapshot) -> None:
        """Swap in an environment's new snapshot and wake the readers waiting for a change."""
        self.snapshots[snapshot.environment] = snapshot  # one reference swap: readers see old or new
        now = self.confirmed_at[snapshot.environment] = time.time()
        metrics.SNAPSHOT_VERSION.labels(environment=snapshot.environment).set(snapshot.version)
        metrics.SNAPSHOT_CONFIRMED.labels(environment=snapshot.environment).set(now)
        with self.changed:
            self.changed.notify_all()
        for listener in tuple(self.listeners):
            listener()

    def confirm(self, environments: Iterable[str]) -> None:
        """The database was just read and nothing newer exists: the snapshots are current as of now."""
        now = time.time()
        for environment in environments:
            if environment in self.snapshots:
                self.confirmed_at[environment] = now
                metrics.SNAPSHOT_CONFIRMED.labels(environment=environment).set(now)


store = Store()
