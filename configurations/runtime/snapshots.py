"""The snapshots that runtime reads come from: one per environment, typed and decrypted once, kept fresh by deltas.

A snapshot is built from rows of (id, category, key, stored text, value_type, is_encrypted) with the one
decrypt-and-parse (``core.stored``) and swapped in with one reference assignment, so a reader sees the old
snapshot or the new one, never a mix.

Versions are history ids. Every writer extends the history's hash chain under one lock held until it commits,
and draws its ids under that lock (migration 0009), so history ids are in commit order: once id N is visible,
no smaller id will ever appear. A category's version is its newest history id; an environment's is the newest
of its categories'. A refresh therefore reads only the history rows after the last id it saw, then the current
rows of the configurations they name (``apply_history_since``): its cost follows the change, not the table. It falls
back to a full load when it cannot tell: nothing seen yet, a head older than what it saw (a restore, a flush),
rows it has not seen already archived, or more changed rows than ``DELTA_LIMIT``, or the metadata changed.

Defaults are values: a key whose metadata has a default and that has no active row is served its default, typed,
and the snapshot says so (``defaulted``, ``source``). The metadata (defaults and password keys) is read with every
full load; a refresh that sees the metadata's version move does a full load.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection

from ..core import crypto, secrecy, stored, values
from ..core.vocabulary import label, value_type_for_input
from ..data import queries, write_memory
from . import persistence
from .store import store

logger = logging.getLogger("configurations.runtime")

# A query function: (sql with %s placeholders, parameters) -> list of row tuples.
Query = Callable[[str, Sequence[Any]], list[tuple]]

DELTA_LIMIT = 10_000


class Undecryptable:
    """Stands for a secret that did not decrypt: reading it raises, loudly, without its value."""

    __slots__ = ("error",)

    def __init__(self, error: crypto.DecryptionError) -> None:
        self.error = error


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """category -> key -> typed value. Two string-keyed lookups are faster than one tuple-keyed, and a change
    copies only its category's dict (and the small dict of categories), never the whole environment."""

    environment: str
    by_category: dict[str, dict[str, Any]]
    category_versions: dict[str, int] = dataclasses.field(default_factory=dict)
    secret: frozenset[tuple[str, str]] = frozenset()  # encrypted, password metadata, or a secret-looking name
    loaded_at: float = dataclasses.field(default_factory=time.time)
    defaulted: frozenset[tuple[str, str]] = frozenset()  # keys served their metadata default (no active row)
    defaults_version: int = 0  # the metadata's version the defaults were read at
    # Per category, the keys whose values a read must copy (JSON objects and lists) or refuse (undecryptable): the
    # rest of a category is handed out by one dict copy (runtime.get_category).
    guarded: dict[str, frozenset[str]] = dataclasses.field(default_factory=dict)
    default_categories: frozenset[str] = frozenset()  # categories whose metadata declares a default

    def defaults_of(self, category: str) -> int | None:
        """The metadata version a category's defaults come from (None: the category declares no default)."""
        return self.defaults_version if category in self.default_categories else None

    def source(self, category: str, key: str) -> str | None:
        """Where a key's value comes from: "stored" (an active row), "default" (its metadata), or None (no value)."""
        if key not in self.by_category.get(category, ()):
            return None
        return "default" if (category, key) in self.defaulted else "stored"

    @property
    def version(self) -> int:
        """The newest history id of this environment that the snapshot includes (0: none)."""
        return max(self.category_versions.values(), default=0)

    def category_version(self, category: str) -> int:
        """The category's version in this snapshot (0: none)."""
        return self.category_versions.get(category, 0)

    def secret_keys(self, category: str) -> list[str]:
        """The category's keys that are secrets, sorted."""
        return sorted(key for key in self.by_category.get(category, ()) if (category, key) in self.secret)


def build_snapshot(environment: str, rows, category_versions: dict[str, int] | None = None) -> Snapshot:
    """A snapshot from rows of (id, category, key, stored text, value_type, is_encrypted), over the defaults."""
    by_category: dict[str, dict[str, Any]] = {}
    secret = set()
    is_secret = _secret_test()
    defaulted = set()
    for category, keys in store.defaults.items():
        for key, (text, value_type) in keys.items():
            by_category.setdefault(category, {})[key] = _default(environment, category, key, text, value_type)
            defaulted.add((category, key))
    for _id, category, key, text, value_type, is_encrypted in rows:
        by_category.setdefault(category, {})[key] = _typed(environment, category, key, text, value_type, is_encrypted)
        defaulted.discard((category, key))
        if is_encrypted:
            secret.add((category, key))
    secret.update(pair for category, keys in by_category.items() for pair in _pairs(category, keys) if is_secret(*pair))
    return Snapshot(
        environment, by_category, dict(category_versions or {}), frozenset(secret),
        defaulted=frozenset(defaulted), defaults_version=store.metadata_seen or 0,
        default_categories=frozenset(store.defaults), guarded=guarded_keys(by_category),
    )  # fmt: skip


GUARDED_TYPES = frozenset({dict, list, Undecryptable})


def guarded_keys(by_category: dict[str, dict[str, Any]], categories: Iterable[str] | None = None) -> dict:
    """category -> the keys a read must not hand out as they are (see Snapshot.guarded); only non-empty entries."""
    found = {}
    for category in by_category if categories is None else categories:
        keys = frozenset(key for key, value in by_category.get(category, {}).items() if type(value) in GUARDED_TYPES)
        if keys:
            found[category] = keys
    return found


def _pairs(category: str, keys) -> Iterable[tuple[str, str]]:
    return ((category, key) for key in keys)


def _default(environment: str, category: str, key: str, text: str, value_type: str) -> Any:
    return _typed(environment, category, key, text, value_type, False)


def _secret_test() -> Callable[[str, str], bool]:
    """Whether a key is a secret whatever its row says: password metadata (as of the last full load) or its name.

    The database refuses such a key's value in the clear (migration 0017); a row stored so before is still
    served as a secret (never to a token without ``secrets``), and the system check W005 names it.
    """
    password_keys, name_is_secret = store.password_keys, secrecy.name_matcher()
    return lambda category, key: (category, key) in password_keys or name_is_secret(key)


def _typed(environment, category, key, text, value_type, is_encrypted) -> Any:
    identity = {"environment": environment, "category": category, "key": key}
    try:
        return stored.typed(text, value_type, is_encrypted=bool(is_encrypted), **identity)
    except crypto.DecryptionError as error:
        logger.error("Configuration %s cannot be decrypted: %s", label(category, key, environment), error)
        return Undecryptable(error)
    except values.ValueTypeError:
        logger.error("Configuration %s does not parse as %s", label(category, key, environment), value_type)
        return text


def load_full(query: Query, environment: str) -> None:
    """Load one environment's snapshot in three queries: the versions, the metadata, then the rows."""
    with store.refresh_lock:
        versions = query(queries.VERSIONS_SQL, [environment])
        head = next(int(v or 0) for c, v in versions if c is None)
        category_versions = {c: int(v) for c, v in versions if c is not None}
        metadata = [tuple(row) for row in query(queries.METADATA_SQL, [])]
        version = next(int(row[4] or 0) for row in metadata if row[0] is None)
        use_metadata([row for row in metadata if row[0] is not None], version)
        rows = [tuple(row) for row in query(queries.SNAPSHOT_SQL, [environment])]
        install(environment, rows, category_versions)
        # Rows may be newer than the versions read first; the next delta reads those changes again, harmlessly.
        store.seen = head if store.seen is None else min(store.seen, head)
        store.full_loads += 1


def use_metadata(rows: list[tuple], version: int) -> None:
    """Take the password keys and defaults from metadata rows of (category, key, input_type, value_type, default)."""
    store.metadata, store.metadata_seen = rows, version
    store.password_keys = frozenset((c, k) for c, k, input_type, _, _ in rows if input_type == "password")
    defaults: dict[str, dict[str, tuple[str, str]]] = {}
    for category, key, input_type, value_type, default in rows:
        if default is not None:
            defaults.setdefault(category, {})[key] = (default, value_type or value_type_for_input(input_type))
    store.defaults = defaults


def install(environment: str, rows, category_versions: dict[str, int] | None = None) -> None:
    """Make rows of (id, category, key, stored text, value_type, is_encrypted) the environment's snapshot."""
    rows = [tuple(row) for row in rows]
    with store.refresh_lock:
        store.put(build_snapshot(environment, rows, category_versions))
        store.ids[environment] = {row[0]: (row[1], row[2]) for row in rows}
        if persistence.enabled():
            store.rows[environment] = {row[0]: row for row in rows}
        persistence.save(environment, rows, category_versions or {}, store.metadata)


def adopt(query: Query, environment: str) -> bool:
    """Serve the snapshot the parent process loaded before fork(), brought up to date by a delta (a full load only
    when a delta cannot tell); False when there is none. While the database is unreachable the inherited snapshot
    is served as it is, and the error raised."""
    snapshot = store.inherited.pop(environment, None)
    if snapshot is None:
        return False
    with store.refresh_lock:
        store.snapshots[environment] = snapshot
        store.confirmed_at[environment] = snapshot.loaded_at
        refresh(query, [environment])
    return True


def install_saved(environment: str, saved: persistence.Saved) -> None:
    """Serve what was saved on disk (an outage at start); the next refresh is a full load."""
    with store.refresh_lock:
        if store.metadata_seen is None:
            use_metadata(saved.metadata, 0)
        store.put(build_snapshot(environment, saved.rows, saved.category_versions))
        store.seen = None


def refresh(query: Query, environments: Iterable[str]) -> None:
    """Bring the environments' snapshots up to date: a delta when possible, else full loads."""
    environments = list(environments)
    with store.refresh_lock:
        if (
            store.seen is None
            or any(env not in store.snapshots for env in environments)
            or not apply_history_since(query, environments)
        ):
            store.seen = None
            write_memory.forget()  # what changed is not known row by row
            for environment in environments:
                load_full(query, environment)


def apply_history_since(query: Query, environments: list[str]) -> bool:
    """Apply the history rows after ``store.seen``; False when only a full load can tell what changed. One statement
    (queries.DELTA_SQL_BY_VENDOR): the heads, the history after ``store.seen`` and the current rows it names."""
    since = store.seen
    found = query(queries.DELTA_SQL_BY_VENDOR[connection.vendor], [since, DELTA_LIMIT + 1, since, since])
    _, head, metadata_head, archived = found[0][:4]
    head, metadata_head = int(head or 0), int(metadata_head or 0)
    if head < since or metadata_head != store.metadata_seen:
        return False  # the head went back (a restore, a flush), or the metadata changed (defaults, passwords)
    if head == since:
        store.confirm(environments)
        return True
    changes = [(row[1], row[2], row[4], row[5]) for row in found if row[0] == 1]  # history id, config id, env, category
    if len(changes) > DELTA_LIMIT or not changes or changes[-1][0] != head:
        return False  # too many to apply one by one, or the head's own row is gone (truncated, archived)
    if archived:
        return False  # rows after `since` were archived before this process saw them
    watched = set(environments)
    touched: dict[str, dict[str, int]] = {}
    config_ids = set()
    for history_id, config_id, environment, category in changes:
        config_ids.add(config_id)
        if environment in watched:
            touched.setdefault(environment, {})[category] = history_id
    # (id, environment, category, key, stored text, value_type, is_encrypted, is_active, version): the version as
    # optimistic writes compare it, None on an engine without one.
    current = {row[1]: (row[1], *row[4:]) for row in found if row[0] == 2}
    write_memory.changed(((config_id, history_id) for history_id, config_id, _, _ in changes), current, head)
    for environment in environments:
        _apply(environment, config_ids, current, touched.get(environment, {}))
    store.seen = head
    store.deltas += 1
    store.confirm(environments)
    return True


def _apply(environment: str, config_ids: set[int], current: dict[int, tuple], versions: dict[str, int]) -> None:
    """Copy-on-write: the changed keys over a copy of the snapshot, then one swap."""
    old = store.snapshots[environment]
    ids = store.ids.setdefault(environment, {})
    relevant = [i for i in config_ids if i in ids or (i in current and current[i][1] == environment)]
    if not relevant and not versions:
        return
    patch = _Patch(environment, old, ids, store.rows.get(environment))
    for config_id in relevant:
        patch.remove(config_id)
        row = current.get(config_id)
        if row is not None and row[1] == environment and row[7]:
            patch.put(row)
    category_versions = {**old.category_versions, **versions}
    categories = patch.categories()
    guarded = {c: keys for c, keys in old.guarded.items() if c not in patch.copied and c in categories}
    guarded.update(guarded_keys(categories, patch.copied))
    store.put(Snapshot(
        environment, categories, category_versions, frozenset(patch.secret),
        defaulted=frozenset(patch.defaulted), defaults_version=old.defaults_version,
        default_categories=old.default_categories, guarded=guarded,
    ))  # fmt: skip
    if patch.saved_rows is not None:
        persistence.save(environment, list(patch.saved_rows.values()), category_versions, store.metadata)


class _Patch:
    """One refresh's changes over an environment's snapshot: a category's dict is copied once, when first changed."""

    def __init__(self, environment: str, old: Snapshot, ids: dict, saved_rows: dict | None) -> None:
        self.environment, self.ids, self.saved_rows = environment, ids, saved_rows
        self.by_category = dict(old.by_category)
        self.secret = set(old.secret)
        self.defaulted = set(old.defaulted)
        self.copied: set[str] = set()
        self.is_secret = _secret_test()

    def _category(self, category: str) -> dict[str, Any]:
        if category not in self.copied:
            self.copied.add(category)
            self.by_category[category] = dict(self.by_category.get(category, {}))
        return self.by_category[category]

    def remove(self, config_id: int) -> None:
        """Take the row's old key out, if the snapshot held it."""
        previous = self.ids.pop(config_id, None)
        if previous is not None:
            category, key = previous
            self._category(category).pop(key, None)
            self.secret.discard(previous)
            if self.saved_rows is not None:
                self.saved_rows.pop(config_id, None)
            default = store.defaults.get(category, {}).get(key)
            if default is not None:  # without its row, the key is its default again
                self._category(category)[key] = _default(self.environment, category, key, *default)
                self.defaulted.add(previous)
                if self.is_secret(category, key):
                    self.secret.add(previous)

    def put(self, row: tuple) -> None:
        """Put an active row's typed value in."""
        config_id, _env, category, key, text, value_type, is_encrypted = row[:7]
        self._category(category)[key] = _typed(self.environment, category, key, text, value_type, is_encrypted)
        self.ids[config_id] = (category, key)
        self.defaulted.discard((category, key))
        if is_encrypted or self.is_secret(category, key):
            self.secret.add((category, key))
        if self.saved_rows is not None:
            self.saved_rows[config_id] = (config_id, category, key, text, value_type, is_encrypted)

    def categories(self) -> dict[str, dict[str, Any]]:
        """The patched categories, without those left empty."""
        for category in self.copied:
            if not self.by_category[category]:
                del self.by_category[category]
        return self.by_category
