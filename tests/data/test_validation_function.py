"""validate_configuration_value() in SQL: the spec's function, fixed, with options added."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.factories import ConfigurationFactory, MetadataFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def validate(category, key, value, environment=None) -> bool:
    with connection.cursor() as cursor:
        if environment is None:
            cursor.execute("SELECT validate_configuration_value(%s, %s, %s)", [category, key, value])
        else:
            cursor.execute("SELECT validate_configuration_value(%s, %s, %s, %s)", [category, key, value, environment])
        return cursor.fetchone()[0]


@pytest.mark.parametrize(
    ("rules", "value", "expected"),
    [
        ({"required": True}, "x", True),
        ({"required": True}, "", False),
        ({"required": True}, None, False),
        ({}, "", True),
        ({"minLength": 3}, "abc", True),
        ({"minLength": 3}, "ab", False),
        ({"maxLength": 3}, "abc", True),
        ({"maxLength": 3}, "abcd", False),
        ({"maxLength": 3}, "äöü", True),
        ({"pattern": "^[a-z.-]+$"}, "smtp.gmail.com", True),
        ({"pattern": "^[a-z.-]+$"}, "smtp gmail", False),
        ({"options": ["true", "false"]}, "true", True),
        ({"options": ["true", "false"]}, "yes", False),
        ({"options": [25, 587]}, "587", True),
        ({"options": [25, 587]}, "465", False),
    ],
)
def test_text_rules(rules, value, expected):
    MetadataFactory(category="v", config_key="k", input_type="text", validation_rules=rules)
    assert validate("v", "k", value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("65535", True), ("0", False), ("65536", False), ("12.5", True), ("-1", False), ("abc", False)],
)
def test_numeric_rules_follow_metadata_input_type(value, expected):
    MetadataFactory(category="v", config_key="port", input_type="number", validation_rules={"min": 1, "max": 65535})
    assert validate("v", "port", value) is expected


def test_numeric_rules_follow_the_configuration_value_type():
    MetadataFactory(category="v", config_key="n", input_type="text", validation_rules={"min": 10})
    assert validate("v", "n", "abc") is True  # no configuration row: a text value
    ConfigurationFactory(category="v", config_key="n", value_type="number", environment="staging")
    ConfigurationFactory(category="v", config_key="n", value_type="string", environment="test")
    assert validate("v", "n", "5", "staging") is False
    assert validate("v", "n", "abc", "staging") is False
    assert validate("v", "n", "50", "staging") is True
    assert validate("v", "n", "abc", "test") is True


def test_is_required_column_counts_as_required():
    MetadataFactory(category="v", config_key="k", is_required=True, validation_rules=None)
    assert validate("v", "k", "") is False
    assert validate("v", "k", "x") is True


def test_keys_without_metadata_are_valid():
    assert validate("nothing", "here", "anything") is True


def test_spec_smtp_metadata_validates():
    assert validate("smtp", "port", "587") is True
    assert validate("smtp", "port", "70000") is False
    assert validate("smtp", "secure", "maybe") is False
    assert validate("smtp", "host", "smtp.gmail.com") is True
    assert validate("smtp", "auth_pass", "short") is False
