"""The history's hash chain: each row's hash covers the previous row's hash and the row's own content.

``row_hash = sha256(prev_hash || content)`` in hex, where ``content`` is every column of the row in a fixed
order, each written ``<length>:<text>`` (``~`` for NULL) so no two rows can share a text. The columns are
normalised so that PostgreSQL, SQLite and Python write the same text: times as microseconds since the
epoch, users as 32 lower-case hex digits, IP addresses as PostgreSQL's ``host()`` prints them, booleans as
``true``/``false``. This is the Python twin of the SQL functions ``config_history_content`` and
``config_chain_hash`` (migration 0009); SQLite's triggers call it, and ``verify_history`` recomputes with it.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import uuid

# The columns hashed, in order (configuration_history and its archive have the same).
FIELDS = (
    "id", "config_id", "old_value", "new_value", "changed_by", "change_reason", "ip_address", "user_agent",
    "created_at", "category", "config_key", "environment", "action", "old_value_type", "new_value_type",
    "old_is_encrypted", "new_is_encrypted", "is_secret",
)  # fmt: skip
_BOOLEANS = frozenset({"old_is_encrypted", "new_is_encrypted", "is_secret"})
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MICROSECOND = datetime.timedelta(microseconds=1)


def content(*values) -> str:
    """The canonical text of a history row's FIELDS, given in order as stored (any engine's Python types)."""
    return "".join(_field(name, value) for name, value in zip(FIELDS, values, strict=True))


def content_of_texts(texts) -> str:
    """The canonical text of FIELDS normalised by ``NORMALISED_SQL`` (the id, a number, first; then texts)."""
    entry_id = str(texts[0])
    rest = ["~" if text is None else f"{len(text)}:{text}" for text in texts[1:]]
    return f"{len(entry_id)}:{entry_id}{''.join(rest)}"


# FIELDS as PostgreSQL's built-in casts normalise them, for reading a whole trail fast (verify_history).
NORMALISED_SQL = (
    "id, config_id::text, old_value, new_value, replace(changed_by::text, '-', ''), change_reason, "
    "host(ip_address), user_agent, ((extract(epoch FROM created_at) * 1000000)::bigint)::text, category, "
    "config_key, environment, action, old_value_type, new_value_type, "
    + ", ".join(
        f"CASE WHEN {flag} THEN 'true' WHEN NOT {flag} THEN 'false' END" for flag in sorted(_BOOLEANS, key=FIELDS.index)
    )
)


def texts(values) -> list:
    """FIELDS (given in order, any engine's or JSON's types) as ``NORMALISED_SQL`` writes them: the id as it is,
    every other value as text (None stays None), so that ``content_of_texts(texts(v)) == content(*v)``."""
    return [values[0]] + [None if v is None else _normalised(n, v) for n, v in zip(FIELDS[1:], values[1:], strict=True)]


def chain_hash(previous: str | None, text: str) -> str:
    """A row's link: sha256 of the previous link and the row's canonical text, in hex."""
    return hashlib.sha256(((previous or "") + text).encode()).hexdigest()


def _field(name: str, value) -> str:
    if value is None:
        return "~"
    text = _normalised(name, value)
    return f"{len(text)}:{text}"


def _normalised(name: str, value) -> str:
    if name in _BOOLEANS:
        return "true" if value else "false"
    if name == "created_at":
        return str(_microseconds(value))
    if name == "changed_by":
        return uuid.UUID(str(value)).hex
    if name == "ip_address":
        return str(ipaddress.ip_address(str(value).split("/")[0]))
    return str(value)


def _microseconds(value) -> int:
    if isinstance(value, str):  # SQLite: 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC
        value = datetime.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return (value - _EPOCH) // _MICROSECOND
