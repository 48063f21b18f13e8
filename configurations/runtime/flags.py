"""Configurations as OpenFeature flags: one resolution for the OFREP endpoints (api/ofrep.py) and the in-process
provider (configurations/openfeature.py), so that both answer the same values, reasons and error codes.

A flag key is ``category.key`` (split at the first dot: categories have no dots). The value is the snapshot's,
typed as stored: boolean, number (an integer when whole, else a float), string, or JSON (object, list or scalar).
A stored value's reason is ``STATIC`` (variant ``stored``); a metadata default's is ``DEFAULT`` (variant
``default``). A secret is never evaluated: it answers ``FLAG_NOT_FOUND``, like a key that does not exist.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any, NamedTuple

from .snapshots import Snapshot, Undecryptable

FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
INVALID_CONTEXT = "INVALID_CONTEXT"
TYPE_MISMATCH = "TYPE_MISMATCH"
GENERAL = "GENERAL"


class FlagError(Exception):
    """An evaluation that has no value: an OpenFeature error code and what to log."""

    def __init__(self, code: str, details: str):
        super().__init__(details)
        self.code = code
        self.details = details


class Resolution(NamedTuple):
    """A flag's value, typed, with its OpenFeature reason and variant, and the category's version."""

    key: str
    value: Any
    reason: str
    variant: str
    version: int


def split(flag_key: str) -> tuple[str, str]:
    """``category.key`` -> (category, key); FLAG_NOT_FOUND for anything else."""
    category, dot, key = flag_key.partition(".")
    if not (category and dot and key):
        raise FlagError(FLAG_NOT_FOUND, f"{flag_key!r} is not a flag key: use category.key")
    return category, key


def resolve(snapshot: Snapshot, flag_key: str) -> Resolution:
    """The flag's value in the snapshot, or FlagError (FLAG_NOT_FOUND for unknown keys and for secrets)."""
    category, key = split(flag_key)
    values = snapshot.by_category.get(category, {})
    if key not in values:
        raise FlagError(FLAG_NOT_FOUND, f"No flag {flag_key} in {snapshot.environment}")
    value = values[key]
    if (category, key) in snapshot.secret or isinstance(value, Undecryptable):
        raise FlagError(FLAG_NOT_FOUND, f"No flag {flag_key} in {snapshot.environment}")
    default = snapshot.source(category, key) == "default"
    return Resolution(
        flag_key, plain(value), "DEFAULT" if default else "STATIC", "default" if default else "stored",
        snapshot.category_version(category),
    )  # fmt: skip


def resolve_all(snapshot: Snapshot, categories: list[str] | None = None) -> list[Resolution]:
    """Every flag of the snapshot (of ``categories``, if given) that may be evaluated: secrets left out."""
    found = []
    for category in sorted(snapshot.by_category if not categories else set(categories) & set(snapshot.by_category)):
        for key in sorted(snapshot.by_category[category]):
            try:
                found.append(resolve(snapshot, f"{category}.{key}"))
            except FlagError:
                continue
    return found


def plain(value: Any) -> Any:
    """A snapshot value as JSON-ready Python: whole numbers as int, others as float; JSON values copied."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return copy.copy(value)


def check_type(value: Any, expected: str) -> None:
    """TYPE_MISMATCH unless ``value`` is of the OpenFeature type asked for (boolean, integer, float, string,
    object); an integer passes as a float."""
    fits = {
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "string": isinstance(value, str),
        "object": isinstance(value, dict | list),
    }[expected]
    if not fits:
        raise FlagError(TYPE_MISMATCH, f"the flag's value is {type(value).__name__}, not {expected}")
