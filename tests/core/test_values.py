"""Typed values: round trips, canonical text, and refusals that say why."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from configurations.core import values
from configurations.core.values import ValueTypeError


@pytest.mark.parametrize(
    ("value_type", "given", "python", "text"),
    [
        ("string", "hello", "hello", "hello"),
        ("string", "", "", ""),
        ("string", "ünïcødé ✓", "ünïcødé ✓", "ünïcødé ✓"),
        ("number", "587", 587, "587"),
        ("number", 587, 587, "587"),
        ("number", "-12", -12, "-12"),
        ("number", "+5", 5, "5"),
        ("number", " 42 ", 42, "42"),
        ("number", "0.1", Decimal("0.1"), "0.1"),
        ("number", 0.1, Decimal("0.1"), "0.1"),
        ("number", Decimal("2.50"), Decimal("2.50"), "2.50"),
        ("number", "1e3", Decimal("1000"), "1000"),
        (
            "number",
            "12345678901234567890.123456789",
            Decimal("12345678901234567890.123456789"),
            "12345678901234567890.123456789",
        ),
        ("boolean", "TRUE", True, "true"),
        ("boolean", "False", False, "false"),
        ("boolean", True, True, "true"),
        ("json", '{"a": [1, 2.5, null, true]}', {"a": [1, 2.5, None, True]}, '{"a":[1,2.5,null,true]}'),
        ("json", {"nested": {"x": "ü"}}, {"nested": {"x": "ü"}}, '{"nested":{"x":"ü"}}'),
        ("json", "[]", [], "[]"),
    ],
)
def test_round_trip(value_type, given, python, text):
    assert values.parse(value_type, given) == python
    assert values.to_text(value_type, given) == text
    assert values.parse(value_type, text) == python
    assert values.to_text(value_type, text) == text


def test_numbers_are_never_floats():
    assert type(values.parse("number", "0.30000000000000004")) is Decimal
    assert values.parse("number", "0.1") + values.parse("number", "0.2") == Decimal("0.3")
    assert type(values.parse("number", "7")) is int


@pytest.mark.parametrize(
    ("value_type", "given", "message"),
    [
        ("number", "abc", "is not a number"),
        ("number", "NaN", "not a finite number"),
        ("number", "Infinity", "not a finite number"),
        ("number", True, "got a boolean"),
        ("number", "", "is not a number"),
        ("boolean", "yes", "is not a boolean"),
        ("boolean", "1", "is not a boolean"),
        ("json", "{bad json}", "is not valid JSON"),
        ("json", '{"a": NaN}', "may not contain NaN"),
        ("json", "[Infinity]", "may not contain Infinity"),
        ("json", '{"a": 1, "a": 2}', "has the key 'a' twice"),
        ("json", "[" * 33 + "]" * 33, "deeper than 32"),
        ("json", "[" * 100_000, "deeper than 32"),
        ("string", "x" * (values.MAX_VALUE_LENGTH + 1), "the limit is"),
        ("json", '"' + "x" * values.MAX_VALUE_LENGTH + '"', "the limit is"),
        ("float", "1", "unknown value type"),
    ],
)
def test_refusals_say_why(value_type, given, message):
    with pytest.raises(ValueTypeError, match=message):
        values.parse(value_type, given)


def test_json_depth_limit_is_inclusive_and_ignores_brackets_in_strings():
    assert values.parse("json", "[" * 32 + "]" * 32)
    assert values.parse("json", '["' + "[" * 100 + '"]') == ["[" * 100]


@given(st.from_regex(r"[ \t]?[+-]?[0-9]{1,24}[ \t]?", fullmatch=True))
def test_integer_text_reads_as_the_general_path_reads_it(text):
    """Plain integers take a fast path (full loads parse 100,000 of them): it must give what Decimal gives."""
    parsed = values.parse("number", text)
    assert type(parsed) is int and parsed == int(Decimal(text.strip()))
