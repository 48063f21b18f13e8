"""Typed values: the stored text of each value_type and the Python value it stands for.

- number: ``int``, or ``Decimal`` for fractions; never a float, so nothing is rounded.
- boolean: stored as ``true``/``false``; input is accepted case-insensitively.
- json: parsed strictly (no NaN/Infinity, no duplicate keys, bounded depth and size).
- string: as given.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from .vocabulary import VALUE_TYPES

MAX_VALUE_LENGTH = 256 * 1024
MAX_JSON_DEPTH = 32


class ValueTypeError(ValueError):
    """A value that does not parse as its type; the message says why."""


def to_text(value_type: str, value: Any) -> str:
    """The canonical stored text of ``value`` (Python value or text) as ``value_type``."""
    return serialize(value_type, parse(value_type, value))


def parse(value_type: str, value: Any) -> Any:
    """The Python value of ``value`` (stored text or a Python value) as ``value_type``."""
    if value_type not in VALUE_TYPES:
        raise ValueTypeError(f"unknown value type {value_type!r}; expected one of {', '.join(VALUE_TYPES)}")
    if isinstance(value, str) and len(value) > MAX_VALUE_LENGTH:
        raise ValueTypeError(f"is {len(value)} characters long; the limit is {MAX_VALUE_LENGTH}")
    return _PARSERS[value_type](value)


def serialize(value_type: str, value: Any) -> str:
    """The stored text of an already parsed Python value."""
    if value_type == "boolean":
        return "true" if value else "false"
    if value_type == "number":
        return _number_text(value)
    if value_type == "json":
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return value


def _parse_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"  # as JSON and YAML write them
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    raise ValueTypeError(f"expected text, got {type(value).__name__}")


def _parse_number(value: Any) -> int | Decimal:
    if isinstance(value, bool):
        raise ValueTypeError("expected a number, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        value = repr(value)  # the shortest text that round-trips, so no binary rounding leaks in
    if isinstance(value, Decimal):
        value = format(value, "f")
    if not isinstance(value, str):
        raise ValueTypeError(f"expected a number, got {type(value).__name__}")
    text = value.strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueTypeError(f"{_preview(value)} is not a number") from None
    if not number.is_finite():
        raise ValueTypeError(f"{_preview(value)} is not a finite number")
    if number == number.to_integral_value() and "." not in text and "e" not in text.lower():
        return int(number)
    return number


def _number_text(number: int | Decimal) -> str:
    if isinstance(number, int):
        return str(number)
    text = format(number, "f")
    if text.startswith("-") and Decimal(text) == 0:
        text = text[1:]
    return text


def _parse_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueTypeError(f"{_preview(value)} is not a boolean; use true or false")


def _parse_json(value: Any) -> Any:
    if not isinstance(value, str):
        # A Python structure: check it by its JSON text, under the same rules.
        try:
            value = json.dumps(value, allow_nan=False, default=_decimal_as_number)
        except (TypeError, ValueError) as error:
            raise ValueTypeError(f"cannot be stored as JSON: {error}") from None
    _check_depth(value)
    try:
        return json.loads(value, object_pairs_hook=_unique_keys, parse_constant=_no_constants)
    except json.JSONDecodeError as error:
        raise ValueTypeError(f"is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})") from None


def _decimal_as_number(value: Any) -> float:
    """Numbers inside JSON values are JSON numbers (imports read fractions as Decimal)."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH before parsing (json would recurse)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise ValueTypeError(f"JSON nests deeper than {MAX_JSON_DEPTH} levels")
        elif char in "]}":
            depth -= 1


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in pairs:
        if key in result:
            raise ValueTypeError(f"JSON object has the key {key!r} twice")
        result[key] = item
    return result


def _no_constants(name: str) -> None:
    raise ValueTypeError(f"JSON may not contain {name}")


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_PARSERS = {"string": _parse_string, "number": _parse_number, "boolean": _parse_boolean, "json": _parse_json}
