"""The body of each webhook (docs/webhooks.md): ``{"type", "timestamp", "data"}`` as Standard Webhooks suggests.

A configuration event carries the history id and the category's version after the change (its newest history id:
the API's ETag counts the same way), so that a receiver can order and deduplicate. A secret's value is never sent,
in the clear or encrypted: ``"secret": true`` and no ``value``. Other values are sent typed, as the API reads them.
"""

from __future__ import annotations

import json
from decimal import Decimal

from ...core import secrecy, values
from ...data.models import ConfigurationEvent, ConfigurationHistory, ConfigurationHistoryArchive

SCHEMA_VERSION = 1
_HISTORY_FIELDS = ("id", "config_key", "new_value", "new_value_type", "is_secret", "new_is_encrypted", "changed_by")


def histories_of(events: list[ConfigurationEvent]) -> dict[int, dict]:
    """The history rows the events point at, by id (live or archived), as dicts."""
    ids = [event.history_id for event in events if event.history_id is not None]
    found = {row["id"]: row for row in ConfigurationHistory.objects.filter(id__in=ids).values(*_HISTORY_FIELDS)}
    missing = set(ids) - set(found)
    if missing:
        archived = ConfigurationHistoryArchive.objects.filter(id__in=missing).values(*_HISTORY_FIELDS)
        found.update({row["id"]: row for row in archived})
    return found


def body(event: ConfigurationEvent, history: dict | None) -> bytes:
    """The event's JSON body, compact, keys sorted: the same bytes every time it is built."""
    data: dict = {"event_id": event.pk, "environment": event.environment, "category": event.category}
    if event.history_id is not None:
        data.update(key=event.config_key, history_id=event.history_id, category_version=event.history_id)
        if history is not None:
            data.update(_value(history))
    elif event.config_key is not None:
        data["key"] = event.config_key
    if event.subject is not None:
        data["subject"] = event.subject
    document = {
        "type": event.event_type,
        "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
        "version": SCHEMA_VERSION,
        "data": data,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=_number).encode()


def _value(history: dict) -> dict:
    """What a receiver learns of the new value: its type, whether it is secret (encrypted, a password key, or a
    name the secret patterns match), and, unless secret, the value."""
    secret = history["is_secret"] or history["new_is_encrypted"] or secrecy.name_is_secret(history["config_key"])
    found = {"value_type": history["new_value_type"], "secret": bool(secret)}
    if history["changed_by"] is not None:
        found["changed_by"] = str(history["changed_by"])
    if found["secret"] or history["new_value"] is None or history["new_value_type"] is None:
        return found
    try:
        found["value"] = values.parse(history["new_value_type"], history["new_value"], stored=True)
    except values.ValueTypeError:
        found["value"] = history["new_value"]
    return found


def _number(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
