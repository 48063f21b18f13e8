"""Reading configurations from running code: as fast as a dict, and never stale.

``get(category, key)`` and ``get_category(category)`` read an in-process snapshot of one environment: no
query and no cache round trip on a warm read. A watcher thread per process keeps the snapshots fresh:
on PostgreSQL it LISTENs for the NOTIFY that the table's trigger sends on commit; on SQLite it polls a change
counter that triggers maintain. If the database goes away, reads go on from the last snapshot; the watcher
reconnects and resyncs. Within one HTTP request every read sees the same snapshot
(``RuntimeSnapshotMiddleware``). These names are a public contract (docs/runtime.md).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core.signals import setting_changed
from django.db import DatabaseError, connection

from .. import conf
from ..core.vocabulary import ConfigurationNotFound, label
from ..data import availability
from . import persistence, waiting
from .snapshots import Snapshot, Undecryptable, adopt, install, install_saved, load_full, refresh
from .snapshots import store as _store
from .tokens import tokens as _tokens
from .watcher import Watcher

logger = logging.getLogger(__name__)

_MISSING = object()
_COPY_OR_RAISE = frozenset({dict, list, Undecryptable})
_EMPTY: dict[str, Any] = {}

__all__ = [
    "ConfigurationNotFound",
    "await_change",
    "current_snapshot",
    "get",
    "get_category",
    "has_snapshot",
    "install",
    "pinned",
    "reload",
    "remembered_grant",
    "reset",
    "snapshot",
    "source",
    "stale_for",
    "status",
    "token_grant",
    "wait_for",
    "wait_until_following",
]

_pinned: ContextVar[dict[str, Snapshot] | None] = ContextVar("configurations_runtime_pinned", default=None)
_pinned_get = _pinned.get


# ------------------------------------------------------------------------------ public API


def get(category: str, key: str, default: Any = _MISSING, *, environment: str | None = None) -> Any:
    """The typed, decrypted value of an active configuration of CONFIG_ENVIRONMENT (or ``environment``), else the
    default its metadata declares (``source`` tells which).

    Raises ConfigurationNotFound (a KeyError) when the key has neither, unless ``default`` is given.
    """
    snapshot = _snapshot(environment)
    try:
        value = snapshot.by_category[category][key]
    except KeyError:
        if default is _MISSING:
            raise ConfigurationNotFound(
                f"no active configuration {label(category, key, snapshot.environment)}"
            ) from None
        return default
    if type(value) in _COPY_OR_RAISE:
        return _copy_or_raise(value)
    return value


def source(category: str, key: str, *, environment: str | None = None) -> str:
    """Where ``get`` takes the key's value from: "stored" (an active row) or "default" (its metadata's default).

    Raises ConfigurationNotFound when the key has neither.
    """
    snapshot = _snapshot(environment)
    found = snapshot.source(category, key)
    if found is None:
        raise ConfigurationNotFound(f"no active configuration {label(category, key, snapshot.environment)}")
    return found


def get_category(category: str, *, environment: str | None = None) -> dict[str, Any]:
    """key -> typed value of every key of ``category`` that has one (an active row, else its metadata default)."""
    # _snapshot's common case inline (the request's pinned snapshot, else the store's): a call less is a quarter of
    # this read's cost (issue 24: within 3x of a dict copy of the same values; docs/performance.md).
    env = environment or _store.default_environment or _default_environment()
    pinned_snapshots = _pinned_get()
    snapshot = _store.snapshots.get(env) if pinned_snapshots is None else pinned_snapshots.get(env)
    if snapshot is None:
        snapshot = _snapshot(environment)
    values = snapshot.by_category.get(category, _EMPTY).copy()  # one C-level copy: most categories need no more
    guarded = snapshot.guarded.get(category)
    if guarded:
        for key in guarded:
            values[key] = _copy_or_raise(values[key])
    return values


@contextmanager
def pinned() -> Iterator[None]:
    """Every read inside the block sees the same snapshot per environment (one per HTTP request)."""
    token = _pinned.set({})
    try:
        yield
    finally:
        _pinned.reset(token)


def reload(environment: str | None = None) -> None:
    """Load the environment's snapshot now, in three queries, through Django's connection."""
    load_full(_django_query, environment or _default_environment())


def snapshot(environment: str | None = None) -> Snapshot:
    """The snapshot reads of ``environment`` see now (pinned within a request): values, versions, secret keys."""
    return _snapshot(environment)


def current_snapshot(environment: str) -> Snapshot:
    """The freshest snapshot there is: the watcher's when it follows the database (no query), else brought up to
    date now by a delta (one query when nothing changed). For code that answers other processes (the API).

    While the database is unreachable, the snapshot this process has (``stale_for()`` says for how long); only
    without one does the database error reach the caller.
    """
    if not _following():
        served = _store.snapshots.get(environment)
        if served is not None and availability.recently_failed():
            return served
        try:
            _current(environment)
            refresh(_django_query, [environment])
        except DatabaseError as error:
            served = _store.snapshots.get(environment)
            if served is None or not availability.is_outage(error):
                raise
            availability.failed(error)
            return served
    return _current(environment)


def has_snapshot(environment: str | None = None) -> bool:
    """Whether this process holds the environment's snapshot (no query)."""
    return (environment or _default_environment()) in _store.snapshots


def stale_for() -> float | None:
    """Seconds this process has been serving snapshots it could not confirm (the database unreachable, the
    watcher not following it), or None while they are current."""
    return None if _following() else availability.down_for()


def wait_for(environment: str, predicate, timeout: float) -> Snapshot:
    """Block until ``predicate(snapshot)`` holds or ``timeout`` seconds pass; return the last snapshot.

    Holds no database connection while it waits: the watcher wakes it when a new snapshot is installed (without a
    watcher it refreshes itself every CONFIG_RUNTIME_POLL_INTERVAL, closing the connection in between).
    """
    deadline = time.monotonic() + timeout
    current = current_snapshot(environment)
    while not predicate(current):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        if connection.in_atomic_block is False:
            connection.close()
        following = _following()
        with _store.changed:
            current = _store.snapshots.get(environment, current)
            if predicate(current):
                break
            _store.changed.wait(remaining if following else min(remaining, conf.runtime_poll_interval()))
        current = current_snapshot(environment) if not following else _store.snapshots.get(environment, current)
    return current


async def await_change(environment: str, predicate, timeout: float) -> Snapshot:
    """``wait_for`` on an event loop: awaits the watcher's next snapshot instead of holding a thread, and holds no
    database connection (runtime/waiting.py). Without a watcher following the database it refreshes in a worker
    thread every CONFIG_RUNTIME_POLL_INTERVAL, closing that thread's connection after each look."""

    def look() -> Snapshot:
        try:
            return current_snapshot(environment)
        finally:
            connection.close()

    async def refresh() -> Snapshot:
        return await asyncio.to_thread(look)

    current = _store.snapshots.get(environment)
    if current is None:
        current = await refresh()
    found = await waiting.wait(
        environment, predicate, timeout, following=_following, refresh=refresh,
        poll_interval=conf.runtime_poll_interval(),
    )  # fmt: skip
    return found if found is not None else current


def token_grant(digest: str):
    """The API token with this digest from memory (None: no usable token), or NOT_FOLLOWING when no watcher
    follows the database, so that memory cannot be trusted to know of a revocation: then ask the database."""
    if not _following():
        if availability.recently_failed():
            return remembered_grant(digest)  # the database is away: the tokens as last known
        return NOT_FOLLOWING
    if _tokens.by_digest is None:
        with _store.refresh_lock:
            if _tokens.by_digest is None:
                _tokens.wanted = True
                _tokens.load(_django_query)
    return _tokens.by_digest.get(digest)


NOT_FOLLOWING = object()


def owner_grant(owner_id):
    """A token's owner from memory, with every permission they hold (None: not held), or NOT_FOLLOWING when no
    watcher follows the database, so that memory cannot be trusted to know of a permission taken away: then ask the
    database. Held only for the owners of the tokens in memory (``token_grant`` loads them)."""
    if not _following() or _tokens.by_digest is None:
        return NOT_FOLLOWING
    return _tokens.owners.get(owner_id)


def remembered_grant(digest: str):
    """The token as this process last knew it (None: unknown), or NOT_FOLLOWING if it never loaded the tokens: for
    an outage, when the database cannot say whether a token was revoked since."""
    if _tokens.by_digest is None:
        return NOT_FOLLOWING
    return _tokens.by_digest.get(digest)


def wait_until_following(timeout: float) -> bool:
    """Give a watcher that was just started up to ``timeout`` seconds for its first sync; whether it follows.
    A watcher that synced once and lost the database is not waited for (an outage must show at once)."""
    watcher = _store.watcher
    if watcher is not None and not watcher.first_sync.is_set():
        watcher.first_sync.wait(timeout)
    return _following()


def _following() -> bool:
    watcher = _store.watcher
    return watcher is not None and watcher.connected


def status() -> dict[str, Any]:
    """What this process serves: per loaded environment its version and seconds since it was last known current,
    and whether the watcher is following the database. Nothing secret; no query."""
    now = time.time()
    watcher = _store.watcher
    return {
        "environments": {
            env: {
                "version": snap.version,
                "updated_at": snap.loaded_at,
                "age_seconds": max(0.0, now - _store.confirmed_at.get(env, snap.loaded_at)),
            }
            for env, snap in sorted(_store.snapshots.items())
        },
        "watching": watcher is not None,
        "watcher_connected": bool(watcher is not None and watcher.connected),
        "full_loads": _store.full_loads,
        "deltas": _store.deltas,
    }


def reset() -> None:
    """Forget every snapshot and stop the watcher (tests; after fork)."""
    with _store.lock:
        watcher, _store.watcher = _store.watcher, None
        with _store.refresh_lock:
            _store.clear()
            _tokens.__init__()
    if watcher is not None:
        watcher.stop()


# --------------------------------------------------------------------------------- helpers


def _django_query(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _copy_or_raise(value: Any) -> Any:
    if isinstance(value, Undecryptable):
        raise value.error
    return copy.deepcopy(value)  # a JSON value is mutable; callers must not change the snapshot


def _default_environment() -> str:
    env = _store.default_environment
    if env is None:
        env = _store.default_environment = conf.runtime_environment()
    return env


def _snapshot(environment: str | None) -> Snapshot:
    env = environment or _store.default_environment or _default_environment()
    pinned_snapshots = _pinned_get()
    if pinned_snapshots is not None:
        snapshot = pinned_snapshots.get(env)
        if snapshot is None:
            snapshot = pinned_snapshots[env] = _current(env)
        return snapshot
    snapshot = _store.snapshots.get(env)
    return snapshot if snapshot is not None else _current(env)


def _current(env: str) -> Snapshot:
    snapshot = _store.snapshots.get(env)
    if snapshot is not None:
        return snapshot
    with _store.lock:
        if env not in _store.snapshots:
            _cold_start(env)
            _watch(env)
        return _store.snapshots[env]


def _cold_start(env: str) -> None:
    """The snapshot the parent loaded before fork() and a delta, else a full load; during an outage, the inherited
    snapshot or the one saved on disk if there is one."""
    try:
        if adopt(_django_query, env):
            return
        reload(env)
    except DatabaseError:
        if env in _store.snapshots:
            logger.warning("Database unreachable at start: serving the %s snapshot loaded before fork.", env)
            return
        saved = persistence.load(env)
        if saved is None:
            raise
        logger.warning("Database unreachable at start: serving the %s snapshot saved on disk.", env)
        install_saved(env, saved)


def _watch(env: str) -> None:
    if not conf.runtime_watch():
        return
    if _store.watcher is None:
        _store.watcher = Watcher()
        _store.watcher.start()
    _store.watcher.add(env)


def _forget_cached_settings(setting: str, **kwargs) -> None:
    if setting in ("CONFIG_ENVIRONMENT", "CONFIG_RUNTIME_WATCH", "CONFIG_ENCRYPTION_KEYS", "DATABASES"):
        reset()


setting_changed.connect(_forget_cached_settings)
if hasattr(os, "register_at_fork"):
    # A watcher thread does not survive fork(): children start afresh.
    os.register_at_fork(after_in_child=lambda: (_store.after_fork(), _tokens.__init__()))
