"""The snapshots that runtime reads come from: one per environment, typed and decrypted once.

A snapshot is built from rows of (category, key, stored text, value_type, is_encrypted) with the one
decrypt-and-parse (``core.stored``) and swapped in with one reference assignment, so a reader sees the old
snapshot or the new one, never a mix. The watcher and ``runtime.reload`` both install through here.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

from ..core import crypto, stored, values
from ..core.vocabulary import label
from . import persistence

logger = logging.getLogger("configurations.runtime")

SNAPSHOT_SQL = (
    "SELECT category, config_key, config_value, value_type, is_encrypted FROM system_configurations "
    "WHERE environment = %s AND is_active"
)


class Undecryptable:
    """Stands for a secret that did not decrypt: reading it raises, loudly, without its value."""

    __slots__ = ("error",)

    def __init__(self, error: crypto.DecryptionError) -> None:
        self.error = error


@dataclasses.dataclass(frozen=True)
class Snapshot:
    environment: str
    values: dict[tuple[str, str], Any]
    by_category: dict[str, dict[str, Any]]


def build_snapshot(environment: str, rows) -> Snapshot:
    """A snapshot from rows of (category, key, stored text, value_type, is_encrypted)."""
    found: dict[tuple[str, str], Any] = {}
    by_category: dict[str, dict[str, Any]] = {}
    for category, key, text, value_type, is_encrypted in rows:
        found[category, key] = by_category.setdefault(category, {})[key] = _typed(
            environment, category, key, text, value_type, is_encrypted
        )
    return Snapshot(environment, found, by_category)


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


class Store:
    """Every snapshot of this process, the watcher that keeps them fresh, and the default environment."""

    def __init__(self) -> None:
        self.snapshots: dict[str, Snapshot] = {}
        self.lock = threading.Lock()
        self.watcher = None
        self.default_environment: str | None = None

    def put(self, snapshot: Snapshot) -> None:
        self.snapshots[snapshot.environment] = snapshot  # one reference swap: readers see old or new


store = Store()


def install(environment: str, rows) -> None:
    """Make rows of (category, key, stored text, value_type, is_encrypted) the environment's snapshot."""
    rows = [tuple(row) for row in rows]
    store.put(build_snapshot(environment, rows))
    persistence.save(environment, rows)
