"""Typed values: the stored text of each value_type and the Python value it stands for.

- number: ``int``, or ``Decimal`` for fractions; never a float, so nothing is rounded.
- boolean: stored as ``true``/``false``; input is accepted case-insensitively.
- json: parsed strictly (no NaN/Infinity, no duplicate keys, bounded depth and size).
- string: as given.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .vocabulary import VALUE_TYPES

MAX_VALUE_LENGTH = 256 * 1024
MAX_JSON_DEPTH = 32
# Numbers are bounded before anything converts them (a Decimal expands its exponent, an int its digits).
MAX_NUMBER_DIGITS = 100
MAX_NUMBER_BITS = 333  # about 100 decimal digits
MAX_EXPONENT = 1000
NUMBER_SHAPE = re.compile(r"[+-]?([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?", re.ASCII)


class ValueTypeError(ValueError):
    """A value that does not parse as its type; the message says why."""


def to_text(value_type: str, value: Any) -> str:
    """The canonical stored text of ``value`` (Python value or text) as ``value_type``."""
    return serialize(value_type, parse(value_type, value))


def parse(value_type: str, value: Any, *, stored: bool = False) -> Any:
    """The Python value of ``value`` (stored text or a Python value) as ``value_type``.

    ``stored``: the text is already in the database; it is read whatever its length (an older row may be
    longer than today's limit), so that reading and exporting never fail on it.
    """
    if value_type not in VALUE_TYPES:
        raise ValueTypeError(f"unknown value type {value_type!r}; expected one of {', '.join(VALUE_TYPES)}")
    if not stored and isinstance(value, str) and len(value) > MAX_VALUE_LENGTH:
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
        if value.bit_length() > MAX_NUMBER_BITS:
            raise ValueTypeError(f"has more than {MAX_NUMBER_DIGITS} digits")
        return value
    if isinstance(value, float):
        value = repr(value)  # the shortest text that round-trips, so no binary rounding leaks in
    if isinstance(value, Decimal):
        _check_decimal_bounds(value)
        value = format(value, "f")
    if not isinstance(value, str):
        raise ValueTypeError(f"expected a number, got {type(value).__name__}")
    text = value.strip()
    digits = text[1:] if text[:1] == "-" else text
    if 0 < len(digits) <= 18 and digits.isascii() and digits.isdigit() and (digits[0] != "0" or len(digits) == 1):
        return int(text)  # the common case, a plain integer well within bounds: what the general path gives
    _check_number_text(text, value)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueTypeError(f"{_preview(value)} is not a number") from None
    if not number.is_finite():
        raise ValueTypeError(f"{_preview(value)} is not a finite number")
    if number == number.to_integral_value() and "." not in text and "e" not in text.lower():
        return int(number)
    return number


def _check_number_text(text: str, original: Any) -> None:
    """Refuse before any conversion what would cost time or memory: work stays bounded by the input's size."""
    match = NUMBER_SHAPE.fullmatch(text)
    if match is None:
        if text.lower().lstrip("+-") in ("nan", "inf", "infinity", "snan"):
            raise ValueTypeError(f"{_preview(original)} is not a finite number")
        raise ValueTypeError(f"{_preview(original)} is not a number")
    whole, fraction, exponent = match.group(1) or "", match.group(2) or "", match.group(3)
    if len(whole.lstrip("0") + fraction) > MAX_NUMBER_DIGITS:
        raise ValueTypeError(f"has more than {MAX_NUMBER_DIGITS} significant digits")
    if exponent is not None and (len(exponent.lstrip("+-").lstrip("0")) > 4 or abs(int(exponent)) > MAX_EXPONENT):
        raise ValueTypeError(f"{_preview(original)} is out of range: the exponent must be within ±{MAX_EXPONENT}")


def _check_decimal_bounds(number: Decimal) -> None:
    _sign, digits, exponent = number.as_tuple()
    if isinstance(exponent, int) and (len(digits) > MAX_NUMBER_DIGITS or abs(exponent) > MAX_EXPONENT):
        raise ValueTypeError(
            f"is out of range: at most {MAX_NUMBER_DIGITS} digits and an exponent within ±{MAX_EXPONENT}"
        )


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
        # A Python structure: check it by its JSON text, under the same rules, once its shape is bounded.
        _check_structure(value)
        try:
            value = json.dumps(value, allow_nan=False, default=_decimal_as_number, ensure_ascii=False)
        except (TypeError, ValueError) as error:
            raise ValueTypeError(f"cannot be stored as JSON: {error}") from None
        if len(value) > MAX_VALUE_LENGTH:
            raise ValueTypeError(f"is {len(value)} characters long as JSON; the limit is {MAX_VALUE_LENGTH}")
    return strict_json(value, depth=MAX_JSON_DEPTH)


def strict_json(text: str, *, depth: int) -> Any:
    """JSON parsed strictly: at most ``depth`` levels (checked before parsing), no key twice in an object, no
    NaN or Infinity, bounded numbers. ValueTypeError says what is wrong and where."""
    check_json_depth(text, depth)
    try:
        return json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constants,
            parse_int=bounded_int,
            parse_float=_bounded_float,
        )
    except json.JSONDecodeError as error:
        raise ValueTypeError(f"is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})") from None


def _decimal_as_number(value: Any) -> float:
    """Numbers inside JSON values are JSON numbers (imports read fractions as Decimal)."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def check_json_depth(text: str, limit: int) -> None:
    """Refuse nesting deeper than ``limit`` before parsing (json would recurse).

    Scans only the brackets: each string literal is skipped in one step of the regex engine.
    """
    depth = 0
    for token in _JSON_STRUCTURE.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > limit:
                raise ValueTypeError(f"JSON nests deeper than {limit} levels")
        elif char in "]}":
            depth -= 1


_JSON_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


def _check_structure(value: Any) -> None:
    """Depth and size of a Python structure, walked without recursion, before anything serialises it."""
    stack, items = [(value, 1)], 0
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            # Every item costs at least two characters of JSON ("1,"): count before looking at any of them.
            items += len(item)
            if items * 2 > MAX_VALUE_LENGTH:
                raise ValueTypeError(f"has {items} items or more, more than fit in {MAX_VALUE_LENGTH} characters")
            if depth > MAX_JSON_DEPTH:
                raise ValueTypeError(f"JSON nests deeper than {MAX_JSON_DEPTH} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, str) and len(item) > MAX_VALUE_LENGTH:
            raise ValueTypeError(f"holds a text of {len(item)} characters; the limit is {MAX_VALUE_LENGTH}")
        elif isinstance(item, int) and not isinstance(item, bool) and item.bit_length() > MAX_NUMBER_BITS:
            raise ValueTypeError(f"holds a number of more than {MAX_NUMBER_DIGITS} digits")


def bounded_int(text: str) -> int:
    """``int(text)`` for a JSON integer, refused beyond MAX_NUMBER_DIGITS before the conversion."""
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise ValueTypeError(f"holds a number of more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _bounded_float(text: str) -> float:
    _check_number_text(text, text)
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueTypeError(f"holds the number {_preview(text)}, which is out of range")
    return number


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
