"""The SQL function validate_configuration_value() agrees with the Python engine (property-based, PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from configurations.core.validation import check_rules, problems
from configurations.models import ConfigurationMetadata, SystemConfiguration

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# Patterns whose meaning is the same in PostgreSQL's ARE dialect and in the engine.
PATTERNS = [
    "^[a-z]+$",
    "^[0-9]{2,4}$",
    "abc",
    "^a.*z$",
    "[A-Z]",
    "^(foo|bar)$",
    "^[^@]+@[^@]+$",
    "b+",
    "^$",
    "^.{3}$",
    "^-?[0-9]+$",
    "[.]",
    "^[a-zA-Z0-9.-]+$",
    "a$",
    "^a.b$",
    "(ab)*c",
    "^[[:digit:]]+$",
]
SHORT_TEXT = st.text(alphabet="abcAZ019-.@ \nüé$[", max_size=8)
NUMBER_TEXT = st.from_regex(r"-?[0-9]{1,3}(\.[0-9]{1,2})?", fullmatch=True)
BOUND = st.one_of(st.integers(-50, 50), st.decimals("-50", "50", places=1).map(float))

RULES = st.fixed_dictionaries(
    {},
    optional={
        "required": st.booleans(),
        "minLength": st.integers(0, 6),
        "maxLength": st.integers(0, 6),
        "min": BOUND,
        "max": BOUND,
        "options": st.lists(st.one_of(SHORT_TEXT, st.integers(-5, 600), st.booleans()), min_size=1, max_size=4),
        "pattern": st.sampled_from(PATTERNS),
        "integer": st.booleans(),
    },
).filter(lambda rules: not check_rules(rules))


@st.composite
def cases(draw):
    rules = draw(RULES)
    options = [str(o).lower() if isinstance(o, bool) else str(o) for o in rules.get("options", [])]
    value = draw(st.one_of(st.none(), SHORT_TEXT, NUMBER_TEXT, st.sampled_from(options or [""])))
    return {
        "rules": rules,
        "input_type": draw(st.sampled_from(["text", "number"])),
        "is_required": draw(st.booleans()),
        "value_type": draw(st.sampled_from([None, "string", "number"])),
        "meta_value_type": draw(st.sampled_from([None, "string", "number"])),
        "value": value,
    }


def sql_verdict(value: str | None) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT validate_configuration_value('prop', 'key', %s, 'test')", [value])
        return cursor.fetchone()[0]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases())
def test_sql_and_python_agree(case):
    ConfigurationMetadata.objects.update_or_create(
        category="prop",
        config_key="key",
        defaults={
            "display_name": "Key",
            "input_type": case["input_type"],
            "is_required": case["is_required"],
            "validation_rules": case["rules"],
            "value_type": case["meta_value_type"],
        },
    )
    SystemConfiguration.objects.filter(category="prop").delete()
    if case["value_type"]:
        SystemConfiguration.objects.create(
            category="prop", config_key="key", environment="test", value_type=case["value_type"]
        )
    # The metadata's type when it declares one (issue 14), else the row's: the same on both sides.
    value_type = case["meta_value_type"] or case["value_type"]
    numeric = case["input_type"] == "number" or value_type == "number"
    python = not problems(case["value"], case["rules"], numeric=numeric, required=case["is_required"])
    assert sql_verdict(case["value"]) is python, case
