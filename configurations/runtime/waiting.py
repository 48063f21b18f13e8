"""Waiting for a change on an event loop: no thread and no database connection per waiter.

The watcher thread installs each new snapshot with ``store.put``, which calls every listener. Each event loop that
has waiters registers one listener; it hands the news to its loop with one ``call_soon_threadsafe``, and the loop
checks its waiters of that environment in one pass and resolves the future of each whose predicate now holds. A
change thus costs one cross-thread call per loop, and per waiter only its predicate and one task wake-up.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Awaitable, Callable
from typing import Any

from .store import store

Snapshot = Any


@dataclasses.dataclass(eq=False)
class _Waiter:
    predicate: Callable[[Snapshot], bool]
    future: asyncio.Future


class _LoopWaiters:
    """The waiters of one event loop, by environment."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: dict[str, set[_Waiter]] = {}

    def notify(self) -> None:
        """Called by the thread that installed a snapshot (the watcher's)."""
        if self.loop.is_closed():
            _forget(self.loop)
            return
        self.loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        for environment, waiters in self.waiting.items():
            snapshot = store.snapshots.get(environment)
            if snapshot is None:
                continue
            for waiter in [waiter for waiter in waiters if waiter.predicate(snapshot)]:
                waiters.discard(waiter)
                if not waiter.future.done():
                    waiter.future.set_result(snapshot)


_loops: dict[asyncio.AbstractEventLoop, _LoopWaiters] = {}


def _on(loop: asyncio.AbstractEventLoop) -> _LoopWaiters:
    waiters = _loops.get(loop)
    if waiters is None:
        waiters = _loops[loop] = _LoopWaiters(loop)
        store.listeners.append(waiters.notify)
    return waiters


def _forget(loop: asyncio.AbstractEventLoop) -> None:
    waiters = _loops.pop(loop, None)
    if waiters is not None and waiters.notify in store.listeners:
        store.listeners.remove(waiters.notify)


os.register_at_fork(after_in_child=_loops.clear)  # a forked child has none of its parent's loops


async def wait(
    environment: str,
    predicate: Callable[[Snapshot], bool],
    timeout: float,
    *,
    following: Callable[[], bool],
    refresh: Callable[[], Awaitable[Snapshot]],
    poll_interval: float,
) -> Snapshot | None:
    """Await until ``predicate`` holds for the environment's snapshot or ``timeout`` seconds pass; the last
    snapshot seen. While no watcher follows the database, ``refresh()`` (a thread's query) runs every
    ``poll_interval`` seconds instead."""
    loop = asyncio.get_running_loop()
    waiting = _on(loop).waiting.setdefault(environment, set())
    deadline = loop.time() + timeout
    current = store.snapshots.get(environment)
    while current is None or not predicate(current):
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        watched = following()
        waiter = _Waiter(predicate, loop.create_future())
        waiting.add(waiter)  # from here on a new snapshot resolves it (this runs on the loop, as _fire does)
        current = store.snapshots.get(environment, current)
        if current is not None and predicate(current):
            waiting.discard(waiter)
            break
        # A timer that resolves the future: cheaper to undo than asyncio.timeout when thousands of waits end at once.
        timer = loop.call_later(remaining if watched else min(remaining, poll_interval), _expire, waiter.future)
        try:
            found = await waiter.future
        finally:
            timer.cancel()
            waiting.discard(waiter)
        if found is not _EXPIRED:
            return found
        if not watched:
            current = await refresh()
    return current


_EXPIRED = object()  # a wait's future when its time ran out


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(_EXPIRED)
