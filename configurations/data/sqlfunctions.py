"""SQL functions registered on SQLite connections for the history triggers.

``set_config`` / ``current_setting`` mirror PostgreSQL's functions of the same
names for transaction-local settings; ``config_history_value`` is the Python
twin of the PL/pgSQL function that keeps secrets out of configuration_history.
"""

from __future__ import annotations

import datetime
import hashlib
import sqlite3

from ..core.vocabulary import ENVELOPE_PREFIX, HISTORY_SECRET_MARKER
from . import chain


class TransactionSettings:
    """Settings that live until the current transaction ends."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._values: dict[str, str] = {}

    def set(self, name: str, value: str | None, is_local) -> str:
        """SQLite's twin of PostgreSQL's set_config(name, value, is_local)."""
        value = "" if value is None else str(value)
        if self._connection.in_transaction or not is_local:
            self._values[name] = value
        # Outside a transaction a local setting dies with its statement, as on PostgreSQL.
        return value

    def get(self, name: str, missing_ok=False) -> str | None:
        """SQLite's twin of current_setting(name, missing_ok): None outside a transaction."""
        if not self._connection.in_transaction:
            return None
        return self._values.get(name)

    def clear(self) -> None:
        """Forget every setting (the transaction ended)."""
        self._values.clear()


def history_value(value: str | None, secret) -> str | None:
    """What configuration_history keeps of a value (twin of the PL/pgSQL function)."""
    if value is None:
        return None
    if not secret:
        return value  # whatever its text: only the row's own flags make a value a secret
    if value.startswith(ENVELOPE_PREFIX):
        parts = value.split(":")
        key_id = parts[3] if len(parts) > 3 and parts[3] else "?"
        digest = hashlib.sha256(value.encode()).hexdigest()[:16]
        return f"{HISTORY_SECRET_MARKER} key={key_id} sha256={digest}]"
    # A secret stored in the clear: a digest of it would be guessable, so show only that it is one.
    return f"{HISTORY_SECRET_MARKER}]"


def next_timestamp(previous: str | None) -> str:
    """Now, or a microsecond after ``previous`` if the clock has not moved past it.

    Twin of the PL/pgSQL ``GREATEST(clock_timestamp(), OLD.updated_at + 1 µs)``, in the
    text format Django stores datetimes in on SQLite (which sorts as text).
    """
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    if not previous or now > previous:
        return now
    floor = datetime.datetime.fromisoformat(previous).replace(tzinfo=None) + datetime.timedelta(microseconds=1)
    return floor.isoformat(sep=" ", timespec="microseconds")


def record_content(*values) -> str:
    """The canonical text of a metadata or template history record's columns (data/triggers/records.py)."""
    return "".join("~" if value is None else f"{len(str(value))}:{value}" for value in values)


def register(connection: sqlite3.Connection, settings: TransactionSettings) -> None:
    """Make the functions the SQLite triggers call available on ``connection``."""
    connection.create_function("set_config", 3, settings.set)
    connection.create_function("current_setting", 2, settings.get)
    connection.create_function("config_history_value", 2, history_value, deterministic=True)
    connection.create_function("config_next_timestamp", 1, next_timestamp)
    connection.create_function("config_history_content", len(chain.FIELDS), chain.content, deterministic=True)
    connection.create_function("config_chain_hash", 2, chain.chain_hash, deterministic=True)
    connection.create_function("config_record_content", -1, record_content, deterministic=True)
